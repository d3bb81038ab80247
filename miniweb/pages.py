"""The one renderer of every daemon's HTML pages: Jinja2 templates with autoescape on, so a value a user,
a container or a forged command chose (an application name, a container id, a log file's name) reaches a
page as text whoever renders it. The RM's pages and the NM's extend the same `base.html` (stylesheet, top
bar, nav); the RM's `ui.js` only swaps in the same page freshly rendered here, it builds no markup itself.

>>> environment("miniweb").from_string("<p>{{ v }}</p>").render(v="<script>")
'<p>&lt;script&gt;</p>'
>>> "&lt;script&gt;" in render("miniweb", "base.html", title="<script>", role="", nav=[], active="", page="")
True
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

import jinja2
import markupsafe


def fmt_time(ms: int | None) -> str:
    """A wall-clock time of day, or "–" for YARN's 0 (not yet / never).

    >>> fmt_time(0), fmt_time(-1)
    ('–', '–')
    """
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000)) if ms and ms > 0 else "–"


def clock(ms: int | None) -> markupsafe.Markup | str:
    """A time of day as a `<time>` element that carries its instant: the server writes it in its own zone
    (a container's is often UTC), and the RM's ui.js rewrites its text in the browser's.

    >>> str(clock(1_000)).startswith('<time data-ms="1000">'), clock(0)
    (True, '–')
    """
    if not ms or ms <= 0:
        return "–"
    return markupsafe.Markup('<time data-ms="%d">%s</time>') % (ms, fmt_time(ms))


def fmt_duration(ms: int) -> str:
    """An elapsed time as the RM's pages show it.

    >>> fmt_duration(5_000), fmt_duration(125_000), fmt_duration(7_300_000), fmt_duration(-1)
    ('5s', '2m 5s', '2h 1m', '–')
    """
    if ms < 0:
        return "–"
    s = ms // 1000
    m, h = s // 60, s // 3600
    return f"{h}h {m % 60}m" if h else f"{m}m {s % 60}s" if m else f"{s}s"


def badge_class(state: str) -> str:
    """The stylesheet's class for a state: its upper-case letters and underscores only, so a state text
    can never add a class (or an attribute) of its own.

    >>> badge_class("RUNNING"), badge_class('x" onload="y')
    ('RUNNING', '')
    """
    return "".join(ch for ch in str(state) if ch.isupper() or ch == "_")


def pct(used: float, total: float) -> float:
    """0–100 for a progress bar's width (a total of 0 is an empty bar, not a ZeroDivisionError)."""
    return max(0.0, min(100.0, 100.0 * used / total)) if total else 0.0


@cache
def environment(package: str) -> jinja2.Environment:
    """`package`'s own `templates/` first, then the shared ones here (base.html, macros.html)."""
    loader = jinja2.ChoiceLoader([jinja2.PackageLoader(package, "templates"),
                                  jinja2.PackageLoader(__name__.rsplit(".", 1)[0], "templates")])
    env = jinja2.Environment(loader=loader,
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(time=clock, duration=fmt_duration, badge_class=badge_class)
    env.globals.update(pct=pct)
    return env


def render(package: str, template: str, **context: Any) -> str:
    """`template` (from `package`'s templates or the shared ones) filled with `context`, every value
    escaped unless a template marks it otherwise (none does)."""
    return environment(package).get_template(template).render(**context)
