"""Local models on llama.cpp. No Qt, no agents.

llama.cpp is built with OpenMP, whose default busy-wait made two threads on a busy two-core
machine collapse to ~1 token/s (measured); a passive wait keeps it fast while capture, OCR and
the UI share the CPU. OpenMP reads this once, when llama.cpp's library loads, so it is set here,
before anything imports llama_cpp.
"""

import os
from types import ModuleType

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def llama_cpp() -> ModuleType:
    """llama_cpp, imported once its build is chosen (core.llm.builds): every import of it in
    Mnemo goes through here, so the library loaded is the one chosen."""
    from core.llm import builds

    builds.ensure()
    import llama_cpp as module

    return module


def default_threads() -> int:
    """Threads for llama.cpp: every core but one, which is left to capture, OCR and the UI.

    Measured on a 2-core machine with SmolLM2-135M: 1 thread decoded 60 tok/s, 2 threads 15;
    the threads' synchronisation cost more than the second core gave.
    """
    return max(1, (os.cpu_count() or 1) - 1)


def batch_threads(threads: int) -> int:
    """Threads for prompt processing: prompts come in short bursts of parallel matrix work,
    where every core helps (see bench.llm), unlike the token-by-token decode."""
    return max(threads, os.cpu_count() or 1)


def gpu_offload() -> bool:
    """Whether this llama.cpp build can offload layers to a GPU (CUDA, Metal, Vulkan...)."""
    return bool(llama_cpp().llama_supports_gpu_offload())
