"""Retrieval (and answers) on LoCoMo with the chat agent.

    python -m bench.locomo [--data FILE] [--mode retrieval|qa] [--conversations N]
                           [--no-agents] [--plan] [--oracle-memories]

Ingests each conversation into a fresh store (one dated session per ingestion), then, for every
question of categories 1–4, runs the chat agent's retrieval and checks whether the gold evidence
turns are among the retrieved items' sources (see agents.evaluate). Prints a table, then one
JSON line. Target: recall_at_10 >= 0.85.
"""

import argparse
from pathlib import Path

from agents.evaluate import evaluate_locomo, per_category_table
from app.cli_output import staged_progress
from bench.report import report

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/locomo/locomo_dev.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--mode", choices=["retrieval", "qa"], default="retrieval")
    parser.add_argument("--conversations", type=int)
    parser.add_argument("--no-agents", action="store_true", help="keep turns, write no memories")
    parser.add_argument("--plan", action="store_true", help="model-proposed queries too")
    parser.add_argument(
        "--oracle-memories",
        action="store_true",
        help="index LoCoMo's gold observations and session summaries as the memories (ceiling)",
    )
    args = parser.parse_args()
    if args.oracle_memories:
        args.no_agents = True
    evaluation = evaluate_locomo(
        args.data,
        conversations=args.conversations,
        mode=args.mode,
        agents=not args.no_agents,
        oracle=args.oracle_memories,
        plan_queries=args.plan,
        progress=staged_progress("item"),
    )
    figures = {
        **evaluation.figures(),
        "agents": not args.no_agents,
        "oracle_memories": args.oracle_memories,
        "plan_queries": args.plan,
    }
    rows = [
        (f"recall@5/@10 cat {name}", f"{r5:.3f} / {r10:.3f}", f"{n} questions")
        for name, n, r5, r10 in per_category_table(evaluation)
    ]
    rows += [
        ("recall_at_5", f"{figures['recall_at_5']:.3f}", ""),
        ("recall_at_10", f"{figures['recall_at_10']:.3f}", "target >= 0.85"),
        ("turns_at_10", f"{figures['turns_at_10']:.1f}", "distinct turns the top 10 point to"),
        ("ingest_s", f"{figures['ingest_s']:.1f}", f"{figures['turns']} turns"),
        ("memories", str(figures["memories"]), f"{figures['llm_calls']} model calls"),
    ]
    if args.mode == "qa":
        rows += [
            ("f1", f"{figures['f1']:.3f}", "token F1 vs the gold answer"),
            ("judge_accuracy", f"{figures['judge_accuracy']:.3f}", "the configured model judges"),
        ]
    report(rows, figures)


if __name__ == "__main__":
    main()
