"""newsdag's local web servers (the Prefect server, the explore notebook) answer only for the names they
are served on.

Why: both listen on 127.0.0.1 without a login. A web page the user visits can rebind its own DNS name
to 127.0.0.1 and then read them as same-origin (DNS rebinding), or post to them from its own origin
(Prefect's API allows any CORS origin; WebSockets have no CORS at all). A request whose `Host` is not
one of ours, or that comes from a page of another origin, is refused before it reaches the app.

Run as `python -m flows.hostguard prefect --host H --port P` (the Prefect server, as `prefect server
start` runs it, behind the guard) or `python -m flows.hostguard marimo --host H --port P -- <marimo run
arguments>` (the notebook, behind the same guard).
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def allowed_hosts(host: str) -> list[str]:
    """127.0.0.1, localhost and the host served on; for a wildcard bind (0.0.0.0), this machine's own
    names and addresses, the names other machines reach it by."""
    names = [*LOOPBACK_NAMES, host]
    if host in WILDCARD_HOSTS:
        hostname = socket.gethostname()
        names += [hostname, socket.getfqdn()]
        try:
            names += [info[4][0] for info in socket.getaddrinfo(hostname, None)]
        except OSError:  # a host name that does not resolve: its name alone
            pass
    return sorted({_bracketed(name.lower()) for name in names if name and name not in WILDCARD_HOSTS})


def _bracketed(name: str) -> str:
    """An IPv6 literal as a Host header carries it ([::1]), which is how Starlette compares it."""
    name = name.strip("[]")
    return f"[{name}]" if ":" in name else name


class LocalOnly:
    """TrustedHostMiddleware (a `Host` header not ours: 400), and a browser request or WebSocket from a
    page of another origin refused (403): the Host check alone lets a page of any site reach
    `ws://127.0.0.1:…` or post to the API by its real address."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.hosts = {host.lower() for host in hosts}
        self.app = app
        self.trusted = TrustedHostMiddleware(self._check_origin, allowed_hosts=sorted(self.hosts))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.trusted(scope, receive, send)

    async def _check_origin(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            origin = Headers(scope=scope).get("origin")
            if origin is not None and not self._same_site(origin, Headers(scope=scope).get("host", "")):
                await PlainTextResponse("Cross-origin request refused", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _same_site(self, origin: str, host_header: str) -> bool:
        """The page that sent the request was served by this server: its origin names one of our hosts
        and the port the request came in on."""
        try:
            page = urlsplit(origin)
            served = urlsplit(f"//{host_header}")
            return _bracketed(page.hostname or "") in self.hosts and page.port == served.port
        except ValueError:  # a malformed Origin or port
            return False


def serve_prefect(host: str, port: int) -> None:
    """What `prefect server start --host H --port P` does in the foreground (prefect/cli/_server_utils.py,
    `_run_in_foreground`, one worker): the same app (API, UI, services; the database is migrated in its
    lifespan) and uvicorn settings, behind LocalOnly."""
    import uvicorn
    from prefect.server.api.server import create_app
    from prefect.settings import (
        PREFECT_SERVER_API_KEEPALIVE_TIMEOUT,
        PREFECT_SERVER_API_WEBSOCKET_PING_INTERVAL,
        PREFECT_SERVER_API_WEBSOCKET_PING_TIMEOUT,
        PREFECT_SERVER_LOGGING_LEVEL,
    )

    uvicorn.run(
        app=LocalOnly(create_app(final=True), allowed_hosts(host)),
        host=host,
        port=port,
        timeout_keep_alive=PREFECT_SERVER_API_KEEPALIVE_TIMEOUT.value(),
        ws_ping_interval=PREFECT_SERVER_API_WEBSOCKET_PING_INTERVAL.value(),
        ws_ping_timeout=PREFECT_SERVER_API_WEBSOCKET_PING_TIMEOUT.value(),
        log_level=PREFECT_SERVER_LOGGING_LEVEL.value().lower(),
    )


def serve_marimo(host: str, marimo_args: list[str]) -> None:
    """`marimo run <marimo_args>` with LocalOnly added to its app through marimo's own middleware
    registry (the `marimo.server.asgi.middleware` entry-point group, registered in this process)."""
    from marimo._cli.cli import main as marimo_main
    from marimo._server.registry import MIDDLEWARE_REGISTRY
    from starlette.middleware import Middleware

    MIDDLEWARE_REGISTRY.register("newsdag-local-only", Middleware(LocalOnly, hosts=allowed_hosts(host)))
    marimo_main(args=["run", *marimo_args, "--host", host], prog_name="marimo")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # What follows `--` goes to `marimo run` untouched.
    ours, rest = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(prog="python -m flows.hostguard")
    parser.add_argument("server", choices=["prefect", "marimo"])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(ours)
    if args.server == "prefect":
        serve_prefect(args.host, args.port)
    else:
        serve_marimo(args.host, [*rest, "--port", str(args.port)])


if __name__ == "__main__":
    sys.exit(main())
