"""Files the web UIs serve themselves (no CDN): the stylesheet the RM's pages and the Flink dashboard
share, and the one safe lookup both use for their own static files.

>>> asset("resourcemanager.webapp", "../secret.py") is None
True
"""

from __future__ import annotations

from importlib import resources

TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8"}
# Served from this package whichever UI asks, so the two UIs look alike and the rules live once.
SHARED = frozenset({"style.css"})


def asset(package: str, name: str) -> tuple[bytes, str] | None:
    """(bytes, media type) of `name` from `package`'s `static/` folder (or the shared files); None for
    anything that is not a plain file name with a known type."""
    ext = name[name.rfind("."):] if "." in name else ""
    if "/" in name or "\\" in name or name.startswith(".") or ext not in TYPES:
        return None
    f = resources.files(__name__).joinpath(name) if name in SHARED else \
        resources.files(package).joinpath("static", name)
    return (f.read_bytes(), TYPES[ext]) if f.is_file() else None
