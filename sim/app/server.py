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
scenario files it offers (``sim.app.page.offered``), opens only results folders inside its
results root (``sim.app.results.inside_root``), and never shows a file's contents.

DNS rebinding: a foreign page whose name is made to resolve to 127.0.0.1 reaches the app with
its own name as ``Host`` and ``Origin`` (the two agree, so the origin check passes). So an app
listening on a loopback address (the default) answers only requests whose ``Host`` is a
loopback name or address (``localhost``, ``127.0.0.1``, ``[::1]``); anything else gets 403
(a websocket is closed with 1008).

Memory: each page (a websocket client) holds a kernel of about 13 MB, kept after the page
closes until culled. The app culls a closed page's kernel after ``CULL_TIMEOUT`` (solara's
default: a day) and refuses a new page when ``MAX_KERNELS`` are held (websocket closed with
1013, "try again later"), so no number of clients takes more than about 13 MB times that.

Solara's documented self-hosting is this ASGI app under uvicorn (``SOLARA_APP`` names the
page); ``solara run`` gives no way to add a middleware.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import threading
import time
from urllib.parse import urlsplit

#: Most page kernels held at once, and how long a closed page's kernel is kept.
MAX_KERNELS, CULL_TIMEOUT = 24, "5m"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address, without port) is this machine only."""
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """The name or address of a ``Host`` header, without its port."""
    host = host.strip()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


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


def _kernels() -> int:
    """Page kernels solara holds now (open pages and closed ones not yet culled)."""
    from solara.server import kernel_context

    return len(kernel_context.contexts)


class OriginCheck:
    """ASGI middleware: refuse other sites' requests, and websockets without ``Origin``.

    Args:
        app: The ASGI app behind it.
        loopback_only: The app listens on a loopback address: refuse a ``Host`` that is not
            a loopback name or address (DNS rebinding).
        max_kernels: Refuse a new websocket while this many page kernels are held (None: no
            limit).
    """

    def __init__(self, app, loopback_only: bool = False, max_kernels: int | None = None
                 ) -> None:
        self.app = app
        self.loopback_only = loopback_only
        self.max_kernels = max_kernels

    async def __call__(self, scope, receive, send) -> None:
        """Pass the request on, unless it is refused (see the module docstring)."""
        if scope["type"] in ("http", "websocket"):
            origin = _header(scope, b"origin")
            host = _header(scope, b"host")
            if (origin is None and scope["type"] == "websocket") or (
                    origin is not None and not same_origin(origin, host)) or (
                    self.loopback_only and (host is None or not is_loopback(host_name(host)))):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await send({"type": "http.response.start", "status": 403,
                                "headers": [(b"content-type", b"text/plain")]})
                    await send({"type": "http.response.body",
                                "body": b"cross-origin request refused\n"})
                return
            if (scope["type"] == "websocket" and self.max_kernels is not None
                    and _kernels() >= self.max_kernels):
                await send({"type": "websocket.close", "code": 1013})  # try again later
                return
        await self.app(scope, receive, send)


def make_app(host: str = "127.0.0.1"):
    """Solara's ASGI app for ``sim.app.page`` in production mode, behind ``OriginCheck``.

    Args:
        host: The address the server listens on (a loopback one: loopback ``Host`` only).
    """
    os.environ.setdefault("SOLARA_APP", "sim.app.page")
    os.environ.setdefault("SOLARA_MODE", "production")
    os.environ.setdefault("SOLARA_KERNEL_CULL_TIMEOUT", CULL_TIMEOUT)
    from solara.server.starlette import app

    return OriginCheck(app, loopback_only=is_loopback(host), max_kernels=MAX_KERNELS)


def _exit_with_parent(parent: int) -> None:
    """End this server when ``sim app`` (its parent) is gone, however it ended.

    A SIGKILL to ``sim app`` gives it no chance to stop its server, which would go on
    serving on the port with no one to stop it.
    """
    import signal

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own clean shutdown

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def main(argv: list[str]) -> int:
    """``python -m sim.app.server HOST PORT``: serve until interrupted."""
    import warnings

    import uvicorn

    # plain http on a loopback address: solara falls back to SameSite=lax cookies (the safer
    # choice here) and says so on every page load
    warnings.filterwarnings("ignore", message="Cookies with samesite=none")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    host, port = argv[0], int(argv[1])
    parent = os.environ.get("SIM_APP_PARENT", "")
    if parent.isdigit():
        _exit_with_parent(int(parent))
    uvicorn.run(make_app(host), host=host, port=port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
