"""The bundled models on llama.cpp: speed, speed under load, and structured-output validity.

    python -m bench.llm [--structured 50]

Decode speed is measured idle and again while another process keeps one core busy (the app
shares the CPU with capture, OCR and the UI); first-token latency on a ~200-token prompt;
embedding throughput in batches of short texts; and the share of extraction prompts, of the
kind the memory agents send, that come back as valid structured output. Prints a table, then
one JSON line.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

import core.llm
from bench.report import report
from core.llm.bundled import chat_model
from core.llm.chat import ChatModel, LlamaChat, StructuredOutputError
from core.llm.embedder import LlamaEmbedder
from core.llm.gguf_file import read_header
from core.llm.service import Priority

FILLER = (
    "Mnemo keeps a personal memory on the user's own machine. It reads screen captures and "
    "chats, and writes episodic, semantic, procedural and resource memories. "
)
SNIPPETS = [
    "Slack #billing: Alice: the invoice export fails for EU customers since Tuesday's deploy",
    "Terminal: $ docker compose up -d  → Creating network billing_default ... done",
    "Firefox — Lisbon apartment listings: 2 bedrooms, Alfama, 1,450 €/month, available June",
    "Zoom: Q3 budget review with Alice and Bob. Travel line cut by 10%. Next review Friday.",
    "VS Code — search/ranker.py: def fuse(rankings, k=60): return reciprocal rank fusion",
    "Thunderbird: Dentist appointment confirmed for 12 May at 09:30, Rua Augusta 120",
    "Chat: I started learning Portuguese with a tutor on Tuesdays and Thursdays",
    "Obsidian — Release checklist: tag the commit, build the wheel, upload, announce",
    "Chat: my sister Carol's birthday is on 3 March, she likes climbing",
    "Figma — onboarding flow v3: welcome, permissions, first capture, done",
]


class MemoryItem(BaseModel):
    operation: Literal["insert", "update", "skip"]
    memory_type: Literal["episodic", "semantic", "procedural", "resource"]
    summary: str = Field(min_length=1, max_length=160)
    target_id: int | None = None


Topic = Annotated[str, Field(min_length=1, max_length=40)]


class Extraction(BaseModel):
    # Every string is bounded: unbounded, a small model can ramble inside one string until
    # max_tokens cuts it off, and the JSON never closes.
    topics: list[Topic] = Field(max_length=4)
    items: list[MemoryItem] = Field(max_length=3)


def extraction_prompts(n: int) -> list[list[dict[str, str]]]:
    system = (
        "You are a memory manager. From the captured text, list its topics and the memories "
        "worth keeping. Answer as JSON."
    )
    prompts = []
    for i in range(n):
        batch = "\n".join(SNIPPETS[(i + j) % len(SNIPPETS)] for j in range(1 + i % 3))
        prompts.append([{"role": "system", "content": system}, {"role": "user", "content": batch}])
    return prompts


def timed_generation(
    chat: ChatModel, prompt: str, max_tokens: int, *, after: str | None = None
) -> dict[str, float]:
    """Prompt and decode timings of one raw completion, with a fresh KV cache — or, given
    `after`, right after a completion of that prefix of `prompt`, whose KV cache llama.cpp
    then reuses (as with the chat agent's fixed system prompt)."""

    def work(llama: Any, job: Any) -> dict[str, float]:
        llama.reset()
        if after is not None:
            assert prompt.startswith(after)
            for _ in llama.create_completion(after, max_tokens=1, stream=True):
                pass
        prompt_tokens = len(llama.tokenize(prompt.encode()))
        started = time.perf_counter()
        first = None
        count = 0
        for _chunk in llama.create_completion(
            prompt, max_tokens=max_tokens, temperature=0.0, stream=True
        ):
            count += 1
            if first is None:
                first = time.perf_counter()
        end = time.perf_counter()
        first = first or end
        return {
            "prompt_tokens": prompt_tokens,
            "first_token_ms": (first - started) * 1000,
            "decode_tok_s": (count - 1) / (end - first) if count > 1 else 0.0,
            "prompt_tok_s": prompt_tokens / (first - started),
        }

    return chat.service.run(work, Priority.CHAT)


def busy_core() -> subprocess.Popen:
    """Another process keeping one core busy, as capture and OCR would."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structured", type=int, default=50, help="extraction prompts")
    parser.add_argument("--runs", type=int, default=3, help="repeats of each timing")
    args = parser.parse_args(argv)

    models_dir = Path(tempfile.mkdtemp(prefix="mnemo-bench-models-"))
    chat = LlamaChat.bundled(models_dir)  # as the app runs it: requantized to Q8_0
    decode_prompt = "Write a short story about a lighthouse keeper.\n"
    long_prompt = FILLER * 6  # ~200 tokens
    timed_generation(chat, decode_prompt, 8)  # load and warm up

    idle = [timed_generation(chat, decode_prompt, 128) for _ in range(args.runs)]
    first = [timed_generation(chat, long_prompt, 4) for _ in range(args.runs)]
    prefix = FILLER * 5  # the fixed part; the ~35 tokens after it are new
    cached = [timed_generation(chat, long_prompt, 4, after=prefix) for _ in range(args.runs)]
    hog = busy_core()
    try:
        time.sleep(0.5)
        loaded = [timed_generation(chat, decode_prompt, 128) for _ in range(args.runs)]
    finally:
        hog.kill()
        hog.wait()

    embedder = LlamaEmbedder.bundled(models_dir)
    texts = [f"{SNIPPETS[i % len(SNIPPETS)]} #{i}" for i in range(320)]
    embedder.embed(texts[:8])  # load
    started = time.perf_counter()
    for i in range(0, len(texts), 32):
        embedder.embed(texts[i : i + 32])
    embed_per_s = len(texts) / (time.perf_counter() - started)

    from tqdm import tqdm

    valid, attempts_s = 0, []
    prompts = extraction_prompts(args.structured)
    for messages in tqdm(prompts, desc="structured", unit="prompt", file=sys.stderr):
        started = time.perf_counter()
        try:
            chat.structured(messages, Extraction, retries=2, max_tokens=384)
            valid += 1
        except StructuredOutputError:
            pass
        attempts_s.append(time.perf_counter() - started)
    chat.close()

    figures = {
        "model": f"SmolLM2-135M-Instruct {read_header(chat_model(models_dir)).quantization}",
        "threads": core.llm.default_threads(),
        "threads_batch": core.llm.batch_threads(core.llm.default_threads()),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "decode_tok_s": round(median(idle, "decode_tok_s"), 1),
        "decode_tok_s_loaded": round(median(loaded, "decode_tok_s"), 1),
        "prompt_tok_s": round(median(first, "prompt_tok_s"), 1),
        "first_token_ms": round(median(first, "first_token_ms"), 1),
        "first_token_prompt_tokens": int(first[0]["prompt_tokens"]),
        "first_token_ms_cached_prefix": round(median(cached, "first_token_ms"), 1),
        "embed_per_s": round(embed_per_s, 1),
        "structured_prompts": args.structured,
        "structured_valid_rate": round(valid / max(args.structured, 1), 3),
        "structured_s_median": round(statistics.median(attempts_s), 2) if attempts_s else None,
    }
    ratio = figures["decode_tok_s_loaded"] / max(figures["decode_tok_s"], 1e-9)
    rows = [
        ("decode, idle", f"{figures['decode_tok_s']} tok/s", ""),
        (
            "decode, one core busy",
            f"{figures['decode_tok_s_loaded']} tok/s",
            f"{ratio:.2f}× idle; target ≥ 0.6×",
        ),
        ("prompt evaluation", f"{figures['prompt_tok_s']} tok/s", ""),
        (
            "first token",
            f"{figures['first_token_ms']} ms",
            f"{figures['first_token_prompt_tokens']}-token prompt; target ≤ 300 ms",
        ),
        (
            "first token, prefix cached",
            f"{figures['first_token_ms_cached_prefix']} ms",
            "same prompt, its first ~85% evaluated by the previous call",
        ),
        ("embeddings", f"{figures['embed_per_s']} /s", "batches of 32; target ≥ 100 /s"),
        (
            "structured valid rate",
            f"{figures['structured_valid_rate']}",
            f"{args.structured} prompts; target 1.0",
        ),
        ("structured call, median", f"{figures['structured_s_median']} s", ""),
    ]
    report(rows, figures)
    return figures


if __name__ == "__main__":
    main()
