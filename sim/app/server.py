"""Serve the app: solara's server, behind a check of every request's ``Origin``.

``sim app`` runs ``python -m sim.app.server HOST PORT``. A browser sends ``Origin`` with every
websocket and every cross-site request; a page on another site that opens a websocket to the
app on 127.0.0.1 (cross-site WebSocket hijacking: browsers do not apply the same-origin rule
to websockets) would otherwise drive the app as if it were the user. So a request whose
``Origin`` is not the app's own address (scheme, host and port of its ``Host`` header) is
refused: a websocket is closed with code 1008 (policy violation), anything else gets 403.

A websocket upgrade without ``Origin`` is refused too. Every browser sends it on every
upgrade (RFC 6455, section 4.1, makes it mandatory for browser clients), and the app's page
is the only client the app has, so a missing ``Origin`` only ever comes from a program, and
none of ours needs that. Plain HTTP requests without ``Origin`` pass: browsers omit it on
same-site navigations (the first ``GET /`` of the page), and curl or a health check omits it.

What the check cannot do: a program on this machine (or, with ``--host 0.0.0.0``, on the
network) can write any ``Origin`` it likes, so the check only stops browsers acting for
foreign pages. Against such programs the protection is the page itself: it loads only the
scenario files it offers (``sim.app.page.offered``) and never shows a file's contents.

Solara's documented self-hosting is this ASGI app under uvicorn (``SOLARA_APP`` names the
page); ``solara run`` gives no way to add a middleware.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def same_origin(origin: str, host: str | None) -> bool:
    """Whether ``origin`` (``scheme://host[:port]``) names the server reached at ``host``."""
    if host is None:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    default = "443" if parts.scheme == "https" else "80"
    want = host.lower() if ":" in host.rsplit("]", 1)[-1] else f"{host.lower()}:{default}"
    netloc = parts.netloc.lower()
    got = netloc if ":" in netloc.rsplit("]", 1)[-1] else f"{netloc}:{default}"
    return got == want


class OriginCheck:
    """ASGI middleware: refuse other sites' requests, and websockets without ``Origin``."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        """Pass the request on, unless it is refused (see the module docstring)."""
        if scope["type"] in ("http", "websocket"):
            origin = _header(scope, b"origin")
            if (origin is None and scope["type"] == "websocket") or (
                    origin is not None and not same_origin(origin, _header(scope, b"host"))):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await send({"type": "http.response.start", "status": 403,
                                "headers": [(b"content-type", b"text/plain")]})
                    await send({"type": "http.response.body",
                                "body": b"cross-origin request refused\n"})
                return
        await self.app(scope, receive, send)


def make_app():
    """Solara's ASGI app for ``sim.app.page`` in production mode, behind ``OriginCheck``."""
    os.environ.setdefault("SOLARA_APP", "sim.app.page")
    os.environ.setdefault("SOLARA_MODE", "production")
    from solara.server.starlette import app

    return OriginCheck(app)


def main(argv: list[str]) -> int:
    """``python -m sim.app.server HOST PORT``: serve until interrupted."""
    import warnings

    import uvicorn

    # plain http on a loopback address: solara falls back to SameSite=lax cookies (the safer
    # choice here) and says so on every page load
    warnings.filterwarnings("ignore", message="Cookies with samesite=none")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    host, port = argv[0], int(argv[1])
    uvicorn.run(make_app(), host=host, port=port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
