"""`mnemo mcp`: Mnemo as the memory of other tools, over MCP (stdio or HTTP) and a REST API."""

import argparse
import json
import logging
import sys
from typing import Any

from agents.host import Host
from core.child import app_command
from core.paths import data_dir

log = logging.getLogger(__name__)


def _host(args: argparse.Namespace) -> Host:
    host = Host(args.data_dir)
    # Like the command line: no background work (capture, consolidation belong to the app),
    # so a server started by Claude Desktop never keeps the app from owning them.
    host.start(background=False)
    host.search("warm up", limit=1)  # loads the embedding model before the first request
    return host


def cmd_mcp(_: None, args: argparse.Namespace) -> int:
    from app.serve.guards import check_loopback

    if args.print_config:
        return _print_config(args)
    if args.http:
        check_loopback(args.host)  # before anything is opened or loaded
    from app.serve.mcp_server import build_server
    from app.serve.service import MemoryService

    with _host(args) as host:
        service = MemoryService(host)
        server = build_server(service)
        if not args.http:
            log.info("serving MCP over stdio")
            server.run("stdio")
            return 0
        return _serve_http(host, service, server, args)


def _serve_http(host: Host, service: Any, server: Any, args: argparse.Namespace) -> int:
    import uvicorn

    from app.serve import token as tokens
    from app.serve.guards import check_loopback
    from app.serve.http_api import build_app

    bind = check_loopback(args.host)
    app = build_app(service, server, tokens.load_or_create(host.data_dir), bind)
    port = host.settings.serve.port if args.port is None else args.port

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            bound = self.servers[0].sockets[0].getsockname()[1] if self.servers else port
            where = f"http://{_url_host(bind)}:{bound}"
            # One line on stderr when ready: tests and scripts wait for it (port 0 picks one).
            print(f"mnemo: serving {where}/mcp (MCP) and {where}/api (REST)", file=sys.stderr)
            sys.stderr.flush()

    config = uvicorn.Config(app, host=bind, port=port, log_level="warning", lifespan="on")
    Server(config).run()
    return 0


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _print_config(args: argparse.Namespace) -> int:
    """The JSON a client's settings need: the command for stdio (Claude Desktop, Cursor), or
    with --http the URL and token header."""
    from app.serve import token as tokens
    from core.settings import Settings

    folder = data_dir(args.data_dir)
    command, *first = app_command()
    # The folder always named: a client starts the server without this shell's environment.
    server: dict[str, Any] = {
        "command": command,
        "args": [*first, "--data-dir", str(folder), "mcp"],
    }
    how = "The client starts `mnemo mcp` itself. For HTTP: mnemo mcp --http --print-config"
    if args.http:  # only then is a token made
        port = Settings.load(folder).serve.port if args.port is None else args.port
        server = {
            "url": f"http://127.0.0.1:{port}/mcp",
            "headers": {"Authorization": f"Bearer {tokens.load_or_create(folder)}"},
        }
        how = (
            f"Start the server with `mnemo mcp --http --port {port}`; the token is kept in "
            f"{tokens.token_path(folder)}."
        )
    print(json.dumps({"mcpServers": {"mnemo": server}}, indent=2))
    print(
        "\nClaude Desktop: merge this into claude_desktop_config.json (Settings → Developer → "
        f"Edit Config).\nCursor: merge it into ~/.cursor/mcp.json.\n{how}",
        file=sys.stderr,
    )
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "mcp",
        help="serve your memory to other tools (MCP over stdio; --http: MCP and a REST API)",
        description="Serve Mnemo's memory to AI assistants and editors over the Model Context "
        "Protocol: over stdio (the client starts `mnemo mcp`), or with --http as a server on "
        "127.0.0.1 with MCP at /mcp and a REST API at /api (schema: /api/openapi.json), "
        "behind a bearer token kept in the data folder.",
    )
    p.add_argument("--http", action="store_true", help="serve over HTTP on 127.0.0.1")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    p.add_argument("--port", type=int, help="port (default: [serve] port, 8767; 0 = any free)")
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the JSON to add to Claude Desktop or Cursor, and exit",
    )
    p.set_defaults(func=cmd_mcp, needs_store=False)
