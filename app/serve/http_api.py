"""The loopback HTTP server: MCP over streamable HTTP at /mcp, and a REST API at /api for scripts.

FastAPI, because a script wants an OpenAPI schema (to read, to generate a client from, and for
schemathesis to test against), which the SDK's own Starlette stack does not give. FastAPI is
Starlette underneath, so the SDK's MCP app is mounted in the same server, behind the same
token check: one port, one token, one process on the store.
"""

import contextlib
import ipaddress
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import Body, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field, StringConstraints
from starlette.types import ASGIApp, Receive, Scope, Send

from app.serve import token as tokens
from app.serve.service import (
    AddResult,
    AskResult,
    CoreBlockOut,
    MemoryDetail,
    MemoryInput,
    MemoryOut,
    MemoryService,
    Refused,
    RememberResult,
    SearchResult,
    TypeName,
    tool_actor,
)
from core.errors import Ambiguous, InvalidInput, MnemoError, NotFound

CLIENT_HEADER = "X-Mnemo-Client"  # a script's name, for the history ("api:nightly-export")


class NotLoopback(MnemoError):
    """The server was asked to listen where other machines could reach it."""


def check_loopback(host: str) -> str:
    """`host` if it is 127.0.0.1 or ::1 (the addresses MCP's DNS-rebinding check knows);
    refuses 0.0.0.0, a LAN address, another 127.x or a name."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host) in (
            ipaddress.ip_address("127.0.0.1"),
            ipaddress.ip_address("::1"),
        ):
            return host
    except ValueError:
        pass
    raise NotLoopback(
        f"refusing to listen on {host}: Mnemo serves your memory only on this machine "
        "(127.0.0.1 or ::1)"
    )


# A time for a script: ISO 8601, or an age back from now ("30m", "12h", "7d", "2w").
Age = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,5}[smhdw]$")]
When = datetime | Age


class AskBody(BaseModel):
    question: str = Field(min_length=1, description="A question about the user's past")


class RememberBody(BaseModel):
    text: str = Field(min_length=1, description="What to remember, in words")


class Problem(BaseModel):
    error: str


class BearerToken:
    """ASGI middleware: every request carries `Authorization: Bearer <token>`, or gets 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # none is served; refused before any route sees it
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"").decode("latin-1")
            if not tokens.matches(given, self.token):
                response = JSONResponse(
                    {"error": "missing or wrong token: see `mnemo mcp --print-config`"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_app(
    service: MemoryService, mcp: MCPServer, token: str, host: str = "127.0.0.1"
) -> ASGIApp:
    """The whole server as one ASGI app, token check outermost."""
    mcp_app = mcp.streamable_http_app(streamable_http_path="/mcp", host=host)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # A mounted app's own lifespan is not run: MCP's session manager is started here.
        async with mcp.session_manager.run():
            yield

    api = FastAPI(
        title="Mnemo",
        summary="Your local memory, for scripts: the operations of Mnemo's MCP server.",
        version=mcp.version or "0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        responses={
            400: {"model": Problem, "description": "Invalid input"},
            401: {"model": Problem, "description": "Missing or wrong token"},
            422: {"model": Problem, "description": "Invalid input, or refused by Mnemo"},
        },
    )

    async def run(func: Any, *args: Any, **kw: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: func(*args, **kw))

    @api.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # One line, in the same shape as every other refusal: {"error": "…"}.
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, status_code=422)

    @api.exception_handler(MnemoError)
    async def refused(_: Request, exc: MnemoError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFound | Ambiguous) else 400
        if isinstance(exc, Refused | InvalidInput):
            status = 422
        return JSONResponse({"error": str(exc)}, status_code=status)

    Client = Annotated[
        str | None, Header(alias=CLIENT_HEADER, description="Your script's name, for history")
    ]

    @api.get("/api/search", response_model=SearchResult, tags=["read"])
    async def search(
        q: Annotated[str, Query(min_length=1, description="What to look for")],
        type: Annotated[list[TypeName] | None, Query(description="Only these types")] = None,
        since: Annotated[When | None, Query(description="From this time, or this age: 7d")] = None,
        until: Annotated[When | None, Query(description="Up to this time, or this age")] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        sources: Annotated[bool, Query(description="Also search the kept inputs")] = True,
    ) -> SearchResult:
        """Hybrid keyword, meaning and recency search of memories and kept inputs."""
        return await run(
            service.search,
            q,
            types=type,
            since=since,
            until=until,
            limit=limit,
            include_sources=sources,
        )

    @api.get(
        "/api/memories/{memory_id}",
        response_model=MemoryDetail,
        tags=["read"],
        responses={404: {"model": Problem}},
    )
    async def get_memory(memory_id: Annotated[str, Path(min_length=1)]) -> MemoryDetail:
        """One memory with its sources and links (an id, a unique prefix, or core:human)."""
        return await run(service.get, memory_id)

    @api.get("/api/memories", response_model=list[MemoryOut], tags=["read"])
    async def list_recent(
        type: Annotated[list[TypeName] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> list[MemoryOut]:
        """The newest memories."""
        return await run(service.recent, types=type, limit=limit)

    @api.get("/api/core", response_model=list[CoreBlockOut], tags=["read"])
    async def core_blocks() -> list[CoreBlockOut]:
        """The two core blocks: what Mnemo knows about the user, and its persona."""
        return await run(service.core_blocks)

    @api.post("/api/ask", response_model=AskResult, tags=["read"])
    async def ask(body: Annotated[AskBody, Body()]) -> AskResult:
        """An answer from memory by Mnemo's chat agent, with citations."""
        return await run(service.ask, body.question)

    @api.post(
        "/api/memories",
        response_model=AddResult,
        status_code=201,
        tags=["write"],
    )
    async def add_memory(body: Annotated[MemoryInput, Body()], client: Client = None) -> AddResult:
        """Add a typed memory, through Mnemo's validation and quality gate (422 when the gate
        refuses it: a placeholder, or a near duplicate of a memory there already)."""
        fields = body.model_dump(exclude={"type"}, exclude_unset=True)  # type: ignore[attr-defined]
        return await run(service.add, body.type, fields, actor=tool_actor("api", client))  # type: ignore[attr-defined]

    @api.post("/api/remember", response_model=RememberResult, tags=["write"])
    async def remember(
        body: Annotated[RememberBody, Body()], client: Client = None
    ) -> RememberResult:
        """Free text to the memory team."""
        return await run(service.remember, body.text, actor=tool_actor("api", client))

    api.mount("/", mcp_app)  # last: /mcp, and whatever the SDK serves beside it
    return BearerToken(api, token)
