"""Mnemo's MCP server (the official SDK's MCPServer): six tools and the memories as resources.

Tools run on worker threads (app.serve.running): search answers in milliseconds, but `ask`
and `remember` wait for the local model, and the event loop must keep serving other requests
meanwhile; a cancelled `ask` stops generating. The client's name (from its `initialize`)
becomes the history's actor of every write. The two writing tools are annotated as such, and
refuse until the user lets tools write (Settings → Privacy).
"""

from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from app.serve import running
from app.serve.asking import Stop
from app.serve.service import MemoryService, tool_actor
from app.serve.shapes import (
    MAX_QUERY_CHARS,
    MAX_QUESTION_CHARS,
    MAX_TEXT_CHARS,
    AddResult,
    AskResult,
    CoreBlockOut,
    MemoryDetail,
    MemoryOut,
    RememberResult,
    SearchResult,
    TypeName,
)
from core.errors import MnemoError, NotFound

INSTRUCTIONS = """Mnemo is the user's personal memory, kept on their own machine: what they \
did, said, read and saw, as episodic, semantic, procedural, resource and knowledge-vault \
memories, and the inputs they came from. Search it before answering questions about the \
user's past, projects, people or preferences; cite memory ids. Add a memory only for \
something the user wants kept; writing works only once the user has allowed it in Mnemo's \
settings."""

CORE_BLOCKS = {
    "human": "What Mnemo knows about the user: the always-in-context core block",
    "persona": "How Mnemo's assistant should behave: the persona core block",
}
READ = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
# add_memory only adds; remember may also update memories the team finds it repeats, and
# append to what Mnemo knows about the user (MCP: destructiveHint means "not only additive").
ADD = ToolAnnotations(
    title="Add a memory",
    readOnlyHint=False,
    destructiveHint=False,
    idempotentHint=False,
    openWorldHint=False,
)
REMEMBER = ToolAnnotations(
    title="Remember (may update memories)",
    readOnlyHint=False,
    destructiveHint=True,
    idempotentHint=False,
    openWorldHint=False,
)

Types = Annotated[
    list[TypeName] | None, Field(description="Only these memory types (default: all)")
]
Since = Annotated[
    str | None, Field(description="From this time: 2024-05-01, 2024-05-01T14:30, 7d, 12h")
]
Until = Annotated[str | None, Field(description="Up to this time (same forms as since)")]


def client_name(ctx: Context) -> str | None:
    """The name the client gave in its `initialize` (Claude Desktop sends "claude-ai")."""
    params = ctx.request_context.session.client_params
    info = params.client_info if params is not None else None
    return info.name if info is not None else None


def build_server(service: MemoryService) -> MCPServer:
    server: MCPServer = MCPServer(
        "mnemo", title="Mnemo", instructions=INSTRUCTIONS, version=_version()
    )

    async def run(func: Any, *args: Any, stop: Stop | None = None, **kw: Any) -> Any:
        """Call the service off the event loop; Mnemo's own errors reach the model as what
        they say (any other exception is a crash, which the SDK reports without its text)."""
        try:
            return await running.run(lambda: func(*args, **kw), stop)
        except MnemoError as exc:
            raise ToolError(str(exc)) from exc

    async def read(func: Any, *args: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(lambda: func(*args))
        except NotFound as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except MnemoError as exc:
            raise ResourceError(str(exc)) from exc

    @server.tool(annotations=READ)
    async def search_memory(
        query: Annotated[
            str, Field(max_length=MAX_QUERY_CHARS, description="What to look for, in plain words")
        ],
        types: Types = None,
        since: Since = None,
        until: Until = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Hits of each kind")] = 10,
        include_sources: Annotated[
            bool,
            Field(
                description="Also search the kept inputs (chat turns, files; screen text when "
                "the user allows it)"
            ),
        ] = True,
    ) -> SearchResult:
        """Hybrid keyword, meaning and recency search of the user's memories and the inputs
        they came from. Each hit has its id, dates, a snippet and how each ranking scored it."""
        return await run(
            service.search,
            query,
            types=types,
            since=since,
            until=until,
            limit=limit,
            include_sources=include_sources,
        )

    @server.tool(annotations=READ)
    async def get_memory(
        id: Annotated[str, Field(description="A memory id (or a unique prefix), or core:human")],
    ) -> MemoryDetail:
        """One memory whole, with the inputs it was written from and its links."""
        return await run(service.get, id)

    @server.tool(annotations=READ)
    async def list_recent(
        types: Types = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> list[MemoryOut]:
        """The newest memories, by when what they remember happened."""
        return await run(service.recent, types=types, limit=limit)

    @server.tool(annotations=READ)
    async def ask(
        question: Annotated[
            str,
            Field(max_length=MAX_QUESTION_CHARS, description="A question about the user's past"),
        ],
        ctx: Context,
    ) -> AskResult:
        """Mnemo's own chat agent answers from memory on the local model, citing its sources
        as [n]. Slower than search_memory; use it for a finished answer. Cancelling the call
        stops the answer."""
        pieces: list[str] = []
        stop = Stop()

        def on_piece(piece: str) -> None:  # streamed to the client as progress messages
            pieces.append(piece)
            if not stop.stopped:
                anyio.from_thread.run(ctx.report_progress, len(pieces), None, piece)

        return await run(service.ask, question, on_piece, stop, stop=stop)

    @server.tool(annotations=ADD)
    async def add_memory(
        type: Annotated[TypeName, Field(description="The kind of memory")],
        fields: Annotated[
            dict[str, Any],
            Field(
                description="Its fields: episodic {summary, details, occurred_at, event_type}; "
                "semantic {name, summary, details}; procedural {summary, steps: [...]}; "
                "resource {title, summary, content, resource_type}; knowledge_vault "
                "{caption, secret_value, entry_type, sensitivity: low|medium|high}"
            ),
        ],
        ctx: Context,
    ) -> AddResult:
        """Add one typed memory. It passes Mnemo's validation and quality gate (no
        placeholders, no near duplicates); secrets in its text are redacted. Only when the
        user has let other tools write (Mnemo's Settings → Privacy)."""
        return await run(service.add, type, fields, actor=tool_actor("mcp", client_name(ctx)))

    @server.tool(annotations=REMEMBER)
    async def remember(
        text: Annotated[
            str,
            Field(max_length=MAX_TEXT_CHARS, description="What the user wants remembered"),
        ],
        ctx: Context,
    ) -> RememberResult:
        """Hand free text to Mnemo's memory team, which files it as the right memories (as
        "remember …" in Mnemo's own chat): it may update memories it repeats, and add to
        what Mnemo knows about the user, never to the assistant's persona. Only when the
        user has let other tools write (Mnemo's Settings → Privacy)."""
        return await run(service.remember, text, actor=tool_actor("mcp", client_name(ctx)))

    def core_block(label: str) -> Any:
        async def value() -> str:
            block: CoreBlockOut = await read(service.core_block, label)
            return block.value

        return value

    for label, description in CORE_BLOCKS.items():
        server.resource(
            f"mnemo://core/{label}",
            name=f"core-{label}",
            description=description,
            mime_type="text/plain",
        )(core_block(label))

    @server.resource(
        "mnemo://memory/{memory_id}",
        name="memory",
        description="One memory with its sources and links, as JSON",
        mime_type="application/json",
    )
    async def memory(memory_id: str) -> str:
        detail: MemoryDetail = await read(service.get, memory_id)
        return detail.model_dump_json(indent=1)

    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mnemo")
    except PackageNotFoundError:
        return "0"
