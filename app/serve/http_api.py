"""The loopback HTTP server: MCP over streamable HTTP at /mcp, and a REST API at /api for scripts.

FastAPI, because a script wants an OpenAPI schema (to read, to generate a client from, and for
schemathesis to test against), which the SDK's own Starlette stack does not give. FastAPI is
Starlette underneath, so the SDK's MCP app is mounted in the same server, behind the same
token check: one port, one token, one process on the store.
"""

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import Body, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field, StringConstraints
from starlette.types import ASGIApp

from app.serve.asking import Stop
from app.serve.guards import NotLoopback, check_loopback, disconnected, guarded
from app.serve.running import Gone, run
from app.serve.service import MemoryService, Refused, WritesOff, tool_actor
from app.serve.shapes import (
    MAX_QUERY_CHARS,
    MAX_QUESTION_CHARS,
    MAX_TEXT_CHARS,
    AddResult,
    AskResult,
    CoreBlockOut,
    MemoryDetail,
    MemoryInput,
    MemoryOut,
    RememberResult,
    SearchResult,
    TypeName,
)
from core.errors import Ambiguous, InvalidInput, MnemoError, NotFound

CLIENT_HEADER = "X-Mnemo-Client"  # a script's name, for the history ("api:nightly-export")


# A time for a script: ISO 8601, or an age back from now ("30m", "12h", "7d", "2w").
Age = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,5}[smhdw]$")]
When = datetime | Age


class AskBody(BaseModel):
    question: str = Field(
        min_length=1, max_length=MAX_QUESTION_CHARS, description="A question about the user's past"
    )


class RememberBody(BaseModel):
    text: str = Field(
        min_length=1, max_length=MAX_TEXT_CHARS, description="What to remember, in words"
    )


class Problem(BaseModel):
    error: str


def build_app(
    service: MemoryService, mcp: MCPServer, token: str, host: str = "127.0.0.1"
) -> ASGIApp:
    """The whole server as one ASGI app, behind the guards (app.serve.guards)."""
    mcp_app = mcp.streamable_http_app(streamable_http_path="/mcp", host=check_loopback(host))

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
            413: {"model": Problem, "description": "The request body is too large"},
            422: {"model": Problem, "description": "Invalid input, or refused by Mnemo"},
        },
    )
    writes = {403: {"model": Problem, "description": "The user has not let tools write"}}

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
        if isinstance(exc, WritesOff):
            status = 403
        return JSONResponse({"error": str(exc)}, status_code=status)

    @api.exception_handler(Gone)
    async def gone(_: Request, __: Gone) -> Response:
        return Response(status_code=499)  # nobody reads it: the client closed the connection

    Client = Annotated[
        str | None, Header(alias=CLIENT_HEADER, description="Your script's name, for history")
    ]

    @api.get("/api/search", response_model=SearchResult, tags=["read"])
    async def search(
        q: Annotated[
            str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="What to look for")
        ],
        type: Annotated[list[TypeName] | None, Query(description="Only these types")] = None,
        since: Annotated[When | None, Query(description="From this time, or this age: 7d")] = None,
        until: Annotated[When | None, Query(description="Up to this time, or this age")] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        sources: Annotated[bool, Query(description="Also search the kept inputs")] = True,
    ) -> SearchResult:
        """Hybrid keyword, meaning and recency search of memories and kept inputs (screen
        text only when the user lets tools read it)."""
        return await run(
            lambda: service.search(
                q, types=type, since=since, until=until, limit=limit, include_sources=sources
            )
        )

    @api.get(
        "/api/memories/{memory_id}",
        response_model=MemoryDetail,
        tags=["read"],
        responses={404: {"model": Problem}},
    )
    async def get_memory(memory_id: Annotated[str, Path(min_length=1)]) -> MemoryDetail:
        """One memory with its sources and links (an id, a unique prefix, or core:human)."""
        return await run(lambda: service.get(memory_id))

    @api.get("/api/memories", response_model=list[MemoryOut], tags=["read"])
    async def list_recent(
        type: Annotated[list[TypeName] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> list[MemoryOut]:
        """The newest memories."""
        return await run(lambda: service.recent(types=type, limit=limit))

    @api.get("/api/core", response_model=list[CoreBlockOut], tags=["read"])
    async def core_blocks() -> list[CoreBlockOut]:
        """The two core blocks: what Mnemo knows about the user, and its persona."""
        return await run(service.core_blocks)

    @api.post("/api/ask", response_model=AskResult, tags=["read"])
    async def ask(body: Annotated[AskBody, Body()], request: Request) -> AskResult:
        """An answer from memory by Mnemo's chat agent, with citations. Closing the
        connection stops it."""
        stop = Stop()
        return await run(
            lambda: service.ask(body.question, stop=stop),
            stop,
            lambda: disconnected(request.receive),
        )

    @api.post(
        "/api/memories", response_model=AddResult, status_code=201, tags=["write"], responses=writes
    )
    async def add_memory(body: Annotated[MemoryInput, Body()], client: Client = None) -> AddResult:
        """Add a typed memory, through Mnemo's validation and quality gate (422 when the gate
        refuses it: a placeholder, or a near duplicate of a memory there already). Only when
        the user lets tools write (403 until then)."""
        fields = body.model_dump(exclude={"type"}, exclude_unset=True)  # type: ignore[attr-defined]
        kind = body.type  # type: ignore[attr-defined]
        return await run(lambda: service.add(kind, fields, actor=tool_actor("api", client)))

    @api.post("/api/remember", response_model=RememberResult, tags=["write"], responses=writes)
    async def remember(
        body: Annotated[RememberBody, Body()], client: Client = None
    ) -> RememberResult:
        """Free text to the memory team. Only when the user lets tools write (403 until
        then); it never edits the assistant's persona."""
        return await run(lambda: service.remember(body.text, actor=tool_actor("api", client)))

    api.mount("/", mcp_app)  # last: /mcp, and whatever the SDK serves beside it
    return guarded(api, token)


__all__ = ["CLIENT_HEADER", "NotLoopback", "build_app", "check_loopback"]
