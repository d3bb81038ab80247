"""The token a client sends: `$MINIYARN_TOKEN`, else the file `$MINIYARN_TOKEN_FILE`, else
`~/.miniyarn/token` (what `miniyarn minicluster` writes for the user who started it, mode 0600)."""

from __future__ import annotations

import os
from pathlib import Path

ENV = "MINIYARN_TOKEN"
FILE_ENV = "MINIYARN_TOKEN_FILE"


def default_file() -> Path:
    return Path(os.environ.get(FILE_ENV) or Path.home() / ".miniyarn" / "token")


def current() -> str | None:
    value = os.environ.get(ENV, "").strip()
    if value:
        return value
    try:
        return default_file().read_text().strip() or None
    except OSError:
        return None


def headers() -> dict[str, str]:
    """`Authorization: Bearer …` when a token is known, else nothing (a `simple` cluster needs none)."""
    token = current()
    return {"Authorization": f"Bearer {token}"} if token else {}


def write(token: str, path: Path | None = None) -> Path:
    """Store `token` readable by its owner only; returns where."""
    target = path or default_file()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    target.chmod(0o600)
    return target
