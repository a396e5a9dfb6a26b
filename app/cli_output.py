"""How the CLI prints records: a readable form for people, `--json` for scripts."""

import json
import sys
from collections.abc import Callable
from typing import Any

from core.memory.models import Memory, Source, Version
from core.store.search import SearchHit
from core.timeutil import to_iso

MASK = "••••••"


def emit_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def one_line(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def memory_json(memory: Memory, *, reveal: bool = False) -> dict[str, Any]:
    data = memory.model_dump(mode="json", exclude={"secret_value"})
    if getattr(memory, "secret_stored", False):
        secret = memory.secret_value  # type: ignore[union-attr]
        data["secret_value"] = secret.get_secret_value() if reveal and secret else MASK
    return data


def memory_row(memory: Memory) -> str:
    when = to_iso(memory.event_time or memory.created_at)[:16].replace("T", " ")  # type: ignore[arg-type]
    return f"{memory.id[:10]}  {memory.type:<15} {when}  {one_line(memory.headline, 70)}"


def print_memory(
    memory: Memory, *, reveal: bool = False, sources: list | None = None, links: list | None = None
) -> None:
    data = memory_json(memory, reveal=reveal)
    print(f"{memory.type}  {memory.id}  (rev {memory.rev})")
    print(f"  {memory.headline}")
    for key, value in data.items():
        if key in ("id", "type", "rev") or value in ("", [], None):
            continue
        if isinstance(value, list):
            print(f"  {key}:")
            for index, item in enumerate(value, start=1):
                print(f"    {index}. {item}")
        elif isinstance(value, str) and "\n" in value:
            print(f"  {key}:")
            for line in value.splitlines():
                print(f"    {line}")
        else:
            print(f"  {key}: {value}")
    for source in sources or []:
        print(
            f"  source: {source.kind} {source.id[:10]} {to_iso(source.occurred_at)[:16]} "
            f"{one_line(source.text, 60)}"
        )
    for link in links or []:
        print(f"  link: {link.src[:10]} -[{link.relation}]-> {link.dst[:10]}")


def print_hits(hits: list[SearchHit], *, explain: bool = False) -> None:
    if not hits:
        print("no matching memories")
        return
    for hit in hits:
        print(f"{hit.score:.4f}  {memory_row(hit.memory)}")
        print(f"        {one_line(hit.snippet, 110)}")
        if explain:
            ranks = (
                f"keyword #{hit.keyword_rank} (bm25 {hit.bm25:.2f})" if hit.keyword_rank else "-",
                f"vector #{hit.vector_rank} (cos {hit.similarity:.3f})" if hit.vector_rank else "-",
                f"recency #{hit.recency_rank}" if hit.recency_rank else "-",
            )
            print("        " + " | ".join(ranks))


def source_row(source: Source) -> str:
    when = to_iso(source.occurred_at)[:16].replace("T", " ")
    return f"{source.id[:10]}  {source.kind.value:<8} {when}  {one_line(source.line, 70)}"


def print_source_hits(hits: list[Any]) -> None:
    print("inputs (what was said, seen or read):")
    if not hits:
        print("  no matching inputs")
    for hit in hits:
        print(f"{hit.score:.4f}  {source_row(hit.source)}")


def source_hit_json(hit: Any) -> dict[str, Any]:
    return {
        "source": hit.source.model_dump(mode="json"),
        "score": hit.score,
        "snippet": hit.snippet,
        "keyword_rank": hit.keyword_rank,
        "vector_rank": hit.vector_rank,
    }


def print_source(source: Source, *, picture: str | None, memories: list[Memory]) -> None:
    """One kept input: where and when, its text, and the memories written from it."""
    print(f"{source.kind.value} input  {source.id}")
    for key, value in (
        ("time", to_iso(source.occurred_at)[:19].replace("T", " ")),
        ("speaker", source.actor),
        ("app", source.app),
        ("window" if source.kind == "capture" else "title", source.title),
        ("url", source.url),
        ("file", source.path),
        ("picture", picture),
    ):
        if value:
            print(f"  {key}: {value}")
    print("  text:")
    for line in source.text.splitlines() or [""]:
        print(f"    {line}")
    print(f"  memories written from it: {len(memories) or 'none'}")
    for memory in memories:
        print(f"    {memory_row(memory)}")


def hit_json(hit: SearchHit) -> dict[str, Any]:
    return {
        "memory": memory_json(hit.memory),
        "score": hit.score,
        "snippet": hit.snippet,
        "keyword_rank": hit.keyword_rank,
        "bm25": hit.bm25,
        "vector_rank": hit.vector_rank,
        "similarity": hit.similarity,
        "recency_rank": hit.recency_rank,
        "parts": hit.parts,
    }


def print_history(versions: list[Version]) -> None:
    for version in versions:
        stamp = to_iso(version.changed_at)[:19].replace("T", " ")
        what = ", ".join(version.changed) if version.changed else "created"
        print(f"rev {version.rev}  {stamp}  {version.actor}: {version.cause}  [{what}]")
        for key in version.changed:
            if version.old is not None and key in version.old and key != "secret":
                print(
                    f"    {key} was: {one_line(json.dumps(version.old[key], ensure_ascii=False))}"
                )


def progress(label: str, unit: str) -> Callable[[int, int], None]:
    """A tqdm bar on stderr, fed (done, total) and closed when done reaches total."""
    from tqdm import tqdm

    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc=label, unit=unit, file=sys.stderr)
        state["bar"].n = done
        state["bar"].refresh()
        if done >= total:
            state["bar"].close()

    return update


def staged_progress(unit: str) -> Callable[[str, int, int], None]:
    """One progress bar per stage, fed (stage, done, total)."""
    bars: dict[str, Callable[[int, int], None]] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = progress(stage, unit)
        bars[stage](done, total)

    return update
