"""`mnemo link SRC DST` and `mnemo link --remove SRC DST`: edges of the memory graph between
memories and entities (people, projects, places), written KIND:NAME."""

import argparse
from typing import Any

from agents.host import Host
from core.errors import InvalidInput, NotFound
from core.memory.models import EntityKind

End = tuple[str, str] | str  # (kind, name) of an entity, or a memory's full id


def _entity_ref(ref: str) -> tuple[str, str] | None:
    """(kind, name) of a KIND:NAME reference, None for a memory's id."""
    kind, sep, name = ref.partition(":")
    if not (sep and kind in {k.value for k in EntityKind}):
        return None
    if not name.strip():
        raise InvalidInput(f"a {kind} needs a name: write {kind}:NAME")
    return kind, name


def cmd_link(host: Host, args: argparse.Namespace) -> int:
    # Everything is checked before an entity is created for either end: a link refused (a
    # memory that is not there, a blank relation) must not leave a new node behind.
    ends: list[End] = [_entity_ref(ref) or host.store.resolve(ref) for ref in (args.src, args.dst)]
    if args.remove:
        src, dst = (_existing(host, end) for end in ends)
        removed = host.store.unlink(src, dst, args.relation)
        print(f"removed {removed} link(s)")
        return 0
    if args.relation is not None and not args.relation.strip():
        raise InvalidInput("a relation cannot be blank")
    names = [" ".join(e[1].split()).casefold() if isinstance(e, tuple) else e for e in ends]
    if names[0] == names[1]:
        raise InvalidInput("a memory cannot be linked to itself")
    src, dst = (host.store.entity(*end).id if isinstance(end, tuple) else end for end in ends)
    link = host.store.link(src, dst, args.relation or "related")
    print(f"{link.src} -[{link.relation}]-> {link.dst}")
    return 0


def _existing(host: Host, end: End) -> str:
    """The node an unlink names: unlinking never creates one, so an entity not in the graph
    has nothing to remove."""
    if not isinstance(end, tuple):
        return end
    entity = host.store.find_entity(*end)
    if entity is None:
        kind, name = end
        raise NotFound(f"no {kind} {' '.join(name.split())!r} in the graph: 0 links removed")
    return entity.id


def add_commands(sub: Any) -> None:
    description = "link two memories or entities in the memory graph"
    p = sub.add_parser(
        "link",
        help=description,
        description=description,
        epilog="An entity is written KIND:NAME, with KIND one of "
        + ", ".join(k.value for k in EntityKind)
        + "; it is created if new. Example: mnemo link 01a2b3c4 person:Alice --relation about",
    )
    p.set_defaults(func=cmd_link)
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--relation", "-r", help="kind of link (default: related)")
    p.add_argument(
        "--remove", action="store_true", help="remove the link (all relations unless -r)"
    )


__all__ = ["add_commands"]
