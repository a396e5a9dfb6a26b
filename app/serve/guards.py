"""What stands between the HTTP server's port and its routes (REST and MCP alike).

Binding to a loopback address keeps other machines out, not other programs or web pages on
this one: a page in the browser can reach 127.0.0.1 too, under a name of its own that resolves
there (DNS rebinding), or from its own origin. So, outermost first:

1. `LoopbackOnly`: the Host header must name this server's loopback address and port, and an
   Origin, when a browser sends one, must be a page served from there.
2. `BearerToken`: the token the user copied from `mnemo mcp --print-config`.
3. `BodyLimit`: at most MAX_BODY_BYTES of request body, so no request can fill the memory.
"""

import ipaddress
from collections.abc import Awaitable, Callable

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.serve import token as tokens
from app.serve.shapes import MAX_BODY_BYTES
from core.errors import MnemoError

LOOPBACK = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


class NotLoopback(MnemoError):
    """The server was asked to listen where other machines could reach it."""


def check_loopback(host: str) -> str:
    """The loopback address to listen on, spelled as the Host check and MCP's DNS-rebinding
    check know it ("127.0.0.1" or "::1", however the user wrote it: 0:0:0:0:0:0:0:1 is ::1);
    refuses 0.0.0.0, a LAN address, another 127.x or a name."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address in LOOPBACK:
        return str(address)
    raise NotLoopback(
        f"refusing to listen on {host}: Mnemo serves your memory only on this machine "
        "(127.0.0.1 or ::1)"
    )


def _refuse(status: int, error: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status, headers=headers or None)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class LoopbackOnly:
    """ASGI middleware: refuses (421) a Host that is not this server's loopback address and
    port, and (403) an Origin that is not a page of this server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            names = self.names(scope)
            host = (_header(scope, b"host") or "").lower()
            origin = _header(scope, b"origin")
            if host not in names:
                response = _refuse(421, f"this server answers only to {' or '.join(names)}")
                await response(scope, receive, send)
                return
            if origin is not None and origin.lower() not in {f"http://{n}" for n in names}:
                response = _refuse(403, f"requests from {origin[:100]} are not served")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def names(scope: Scope) -> list[str]:
        """The Host values that mean this server: its loopback address, by number or as
        localhost, with the port it listens on."""
        server = scope.get("server")
        if not server or server[1] is None:
            return []
        port = server[1]
        return [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]


class BearerToken:
    """ASGI middleware: every request carries `Authorization: Bearer <token>`, or gets 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # none is served; refused before any route sees it
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] == "http" and not tokens.matches(
            _header(scope, b"authorization"), self.token
        ):
            response = _refuse(
                401,
                "missing or wrong token: see `mnemo mcp --print-config`",
                **{"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a body over `most` bytes gets 413, from its Content-Length when it
    gives one, else when the bytes received pass the limit (the rest is never read). The body
    is read whole before the app sees it (an app that fails mid-read would answer 500)."""

    def __init__(self, app: ASGIApp, most: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.most = most

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = _refuse(413, f"the request body is over {self.most:,} bytes")
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _refuse(400, "Content-Length is not a number")(scope, receive, send)
                return
            if int(declared) > self.most:
                await too_large(scope, receive, send)
                return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # gone before it finished asking
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > self.most:
                await too_large(scope, receive, send)
                return
            if not message.get("more_body"):
                break
        whole: Message | None = {"type": "http.request", "body": b"".join(chunks)}

        async def replay() -> Message:
            nonlocal whole
            if whole is not None:
                message, whole = whole, None
                return message
            return await receive()

        await self.app(scope, replay, send)


def guarded(app: ASGIApp, token: str) -> ASGIApp:
    """`app` behind every guard, in their order."""
    return LoopbackOnly(BearerToken(BodyLimit(app), token))


async def disconnected(receive: Callable[[], Awaitable[Message]]) -> None:
    """Returns when the HTTP client has gone away (its body read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass
