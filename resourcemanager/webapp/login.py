"""The browser's way in under token auth: `/login` (paste a token from `miniyarn token -user NAME`; or
follow `/login?token=…`, the link `miniyarn minicluster` prints), which sets the signed `hadoop.auth`
cookie (HttpOnly, SameSite=Strict) as Hadoop's AuthenticationFilter does after a SPNEGO exchange, and
`/logout`, which clears it."""

from __future__ import annotations

import html
import logging
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from miniyarn.security import tokens
from resourcemanager.webapp.auth import WebAuth, client_of, safe_next

log = logging.getLogger("resourcemanager.webapp.auth")
MAX_FORM_BYTES = 16 << 10  # a token is ~150 bytes


def _resume(next_path: str) -> HTMLResponse:
    """Reached from another site's navigation: go on to `next_path` from our own origin, so the browser
    sends its SameSite=Strict cookie; without one that lands on the login form (no loop: same-origin now)."""
    target = html.escape(next_path, quote=True)
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={target}">
<title>Continue · miniyarn</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main id="main"><p><a href="{target}" id="continue">Continue</a></p></main></body></html>"""
    return HTMLResponse(doc, headers={"Cache-Control": "no-store"})


def _page(next_path: str, error: str = "", status: int = 200, simple: bool = False) -> HTMLResponse:
    note = ("<p class=\"muted\">This ResourceManager uses <code>simple</code> authentication: no login is "
            "needed, but a token is honoured.</p>" if simple else "")
    problem = f'<p class="diag" id="login-error">{html.escape(error)}</p>' if error else ""
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in · miniyarn</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body><header class="top"><div class="brand">miniyarn <small>ResourceManager</small></div></header>
<main id="main"><h1>Log in</h1>{note}{problem}
<section class="panel"><form method="post" action="/login" id="login-form">
<p>Paste a token printed by <code>miniyarn token -user $USER</code> (the minicluster writes one to
<code>~/.miniyarn/token</code>).</p>
<p><textarea name="token" id="token" rows="3" cols="80" autocomplete="off" required></textarea></p>
<input type="hidden" name="next" value="{html.escape(next_path, quote=True)}">
<p><button type="submit" id="login-submit">Log in</button></p></form></section></main></body></html>"""
    return HTMLResponse(doc, status_code=status, headers={"Cache-Control": "no-store"})


def add_login_routes(app: FastAPI, auth: WebAuth) -> None:
    conf = auth.conf

    def logged_in(request: Request, token: str, next_path: str) -> Response:
        if conf.secret is None:
            return _page(next_path, "This ResourceManager has no signature secret: tokens cannot be checked",
                         400, simple=True)
        try:
            user = tokens.verify(conf.secret, token.strip())
        except tokens.InvalidTokenError as e:
            log.info("Failed login from %s: %s", client_of(request.scope), e)
            return _page(next_path, f"{e}. Get a new token with: miniyarn token -user $USER", 401,
                         simple=conf.kind == "simple")
        log.info("User %s logged in to the web UI from %s", user, client_of(request.scope))
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(tokens.COOKIE, tokens.cookie_value(conf.secret, user, conf.validity_s),
                            max_age=conf.validity_s, path="/", httponly=True, samesite="strict")
        return response

    @app.get("/login", response_model=None)
    def login_page(request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        token = request.query_params.get("token")
        if token:
            return logged_in(request, token, next_path)
        if request.query_params.get("resume") == "1":
            return _resume(next_path)
        return _page(next_path, simple=conf.kind == "simple")

    @app.post("/login", response_model=None)
    async def login(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_FORM_BYTES:
            return _page("/cluster", "The login form is too large", 400)
        form = parse_qs(raw.decode("utf-8", "replace"))
        next_path = safe_next((form.get("next") or [""])[0])
        return logged_in(request, (form.get("token") or [""])[0], next_path)

    @app.get("/logout", response_model=None)
    def logout() -> Response:
        response = RedirectResponse(f"/login?next={quote('/cluster', safe='')}", status_code=302)
        response.delete_cookie(tokens.COOKIE, path="/", httponly=True, samesite="strict")
        return response
