"""Mnemo as another tool's memory: `mnemo mcp` over stdio, driven by the MCP SDK's own client.

    python -m bench.mcp [--memories 10000] [--searches 200] [--questions 5] [--no-screen-text]

Starts `mnemo mcp` as a subprocess on a copy of a seeded store (bench.gui's: memories of every
type and screen captures, embedded by the bundled MiniLM; built once, kept in the user cache
folder), as Claude Desktop or Cursor would, then times what a client sees: tools/list, search
round trips (different queries, after five to warm up), the longest query a tool may send
(MAX_QUERY_CHARS of different words: the worst case the limit allows), and `ask` until its
first piece of answer arrives as a progress message. The copy lets tools search screen text
(the larger search; --no-screen-text: a new user's default). Prints a table, then one JSON line.
"""

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from app.serve.shapes import MAX_QUERY_CHARS
from bench.gui import PEOPLE, PLACES, TOPICS, seeded_store
from bench.report import report
from bench.search import percentile

TARGETS = {"search_p50_ms": 30, "search_p95_ms": 60}
TOOLS = 6
QUESTIONS = [
    "What did Ana ask about the Q3 budget?",
    "Who owns the search rewrite?",
    "How do I update the vendor contract?",
    "When did I talk with Kofi about marathon training?",
    "What notes do I have on the kitchen renovation?",
    "Where did we agree the hiring plans?",
]


def _queries(count: int) -> list[str]:
    """Different queries, as a client's are: a repeated one would find its embedding kept."""
    combos = [f"{who} {topic} {where}" for who in PEOPLE for topic in TOPICS for where in PLACES]
    random.Random(3).shuffle(combos)
    return [f"{combos[n % len(combos)]}{' notes' * (n // len(combos))}" for n in range(count)]


def _longest(n: int) -> str:
    """A query of MAX_QUERY_CHARS characters: the store's own words first (the terms that
    count match thousands of rows), in another order each time, then words of no memory."""
    known = list(dict.fromkeys(" ".join(PEOPLE + TOPICS + PLACES).split()))
    random.Random(n).shuffle(known)
    words = known + [f"filler{n}x{i}" for i in range(MAX_QUERY_CHARS)]
    return " ".join(words)[:MAX_QUERY_CHARS].rsplit(" ", 1)[0]


def _first_piece(began: float, into: list[float]) -> Any:
    """A progress callback noting when the first piece of an answer arrived."""

    async def progress(_: float, __: float | None, ___: str | None) -> None:
        if not into:
            into.append((time.perf_counter() - began) * 1000)

    return progress


async def measure(folder: Path, searches: int, questions: int) -> dict[str, Any]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters
    from mcp_types import Implementation

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "app.cli", "--data-dir", str(folder), "mcp"],
        env=dict(os.environ),  # the SDK passes on only a few variables by default
    )
    started = time.perf_counter()
    async with Client(params, client_info=Implementation(name="bench", version="1")) as client:
        startup_ms = (time.perf_counter() - started) * 1000
        tools = (await client.list_tools()).tools
        with_schema = [t for t in tools if t.input_schema and t.output_schema]
        queries = _queries(searches + 5)
        times, hits = [], []
        for n, query in enumerate(queries):
            began = time.perf_counter()
            result = await client.call_tool("search_memory", {"query": query, "limit": 10})
            elapsed = (time.perf_counter() - began) * 1000
            if result.is_error:
                raise SystemExit(f"search failed: {result.content[0].text}")
            if n >= 5:  # the first few load caches, as any first use does
                times.append(elapsed)
                hits.append(len(result.structured_content["memories"]))
        longest = []
        for n in range(10):
            began = time.perf_counter()
            result = await client.call_tool("search_memory", {"query": _longest(n)})
            longest.append((time.perf_counter() - began) * 1000)
            if result.is_error:
                raise SystemExit(f"search failed: {result.content[0].text}")
        first_pieces, answers = [], []
        for question in (QUESTIONS * questions)[:questions]:
            began = time.perf_counter()
            first: list[float] = []
            result = await client.call_tool(
                "ask", {"question": question}, progress_callback=_first_piece(began, first)
            )
            answers.append((time.perf_counter() - began) * 1000)
            if result.is_error:
                raise SystemExit(f"ask failed: {result.content[0].text}")
            first_pieces.append(first[0] if first else answers[-1])
    return {
        "tools_listed": len(tools),
        "tools_with_json_schema": len(with_schema),
        "server_startup_ms": round(startup_ms),
        "searches": len(times),
        "search_p50_ms": round(percentile(times, 50), 1),
        "search_p95_ms": round(percentile(times, 95), 1),
        "search_hits_mean": round(statistics.mean(hits), 1),
        "longest_query_p50_ms": round(percentile(longest, 50), 1),
        "ask_first_token_ms": round(statistics.median(first_pieces)),
        "ask_total_ms": round(statistics.median(answers)),
        "questions": len(answers),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--captures", type=int, default=5_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument(
        "--no-screen-text",
        dest="screen_text",
        action="store_false",
        help="search as a new user's tools do, without the captures' text",
    )
    args = parser.parse_args(argv)
    seeded = seeded_store(args.memories, args.captures)
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-mcp-") as temp:
        folder = Path(temp) / "data"
        shutil.copytree(seeded, folder)
        if args.screen_text:
            with (folder / "settings.toml").open("a") as settings:
                settings.write("\n[serve]\nshare_screen_text = true\n")
        figures = anyio.run(measure, folder, args.searches, args.questions)
    figures = {
        "memories": args.memories,
        "captures": args.captures,
        "screen_text": args.screen_text,
        **figures,
    }
    rows = [
        ("tools listed (with JSON schema)", f"{figures['tools_with_json_schema']}/{TOOLS}", ""),
        ("server start-up", f"{figures['server_startup_ms']} ms", "models loaded, store open"),
        ("search round trip p50", f"{figures['search_p50_ms']} ms", "target ≤ 30 ms"),
        ("search round trip p95", f"{figures['search_p95_ms']} ms", "target ≤ 60 ms"),
        ("longest query allowed, p50", f"{figures['longest_query_p50_ms']} ms", "1,000 chars"),
        ("ask: first piece of answer", f"{figures['ask_first_token_ms']} ms", "median"),
        ("ask: whole answer", f"{figures['ask_total_ms']} ms", "median"),
    ]
    report(rows, figures)


if __name__ == "__main__":
    main()
