"""Try a llama.cpp build in a process of its own: `python -m core.llm.probe [--cpu|--gpu]
[--tokens N]`.

`--tokens N` decodes N tokens greedily (every layer on the GPU with `--gpu`) and adds the
text and the decode speed.

Run by core.llm.builds with LLAMA_CPP_LIB_PATH set to the build's folder: it loads the
library, lists ggml's devices, loads the bundled chat model (one layer on the GPU for a GPU
build) and decodes a token. A CPU without the build's instructions kills this process with
SIGILL and a broken driver crashes it here, not the app. Prints one JSON line:
{"ok": bool, "device": the GPU's description or "", "why": what failed}.
"""

import ctypes
import json
import os
import sys
import time
from pathlib import Path

PROMPT = "The capital of France is"
GPU_TYPES = (1, 2)  # GGML_BACKEND_DEVICE_TYPE_GPU, _IGPU (ggml-backend.h)


def devices(lib: Path) -> list[tuple[int, str]]:
    """ggml's devices (type, description), from the library llama_cpp loaded."""
    ggml = None
    for name in ("libggml.so", "libggml.dylib", "ggml.dll", "libggml-base.so"):
        if (lib / name).exists():
            ggml = ctypes.CDLL(str(lib / name))
            break
    if ggml is None:
        return []
    ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
    ggml.ggml_backend_dev_get.restype = ctypes.c_void_p
    ggml.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    ggml.ggml_backend_dev_type.restype = ctypes.c_int
    ggml.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    ggml.ggml_backend_dev_description.restype = ctypes.c_char_p
    ggml.ggml_backend_dev_description.argtypes = [ctypes.c_void_p]
    found = []
    for index in range(ggml.ggml_backend_dev_count()):
        device = ggml.ggml_backend_dev_get(index)
        text = ggml.ggml_backend_dev_description(device) or b""
        found.append((ggml.ggml_backend_dev_type(device), text.decode(errors="replace")))
    return found


def run(gpu: bool, tokens: int = 1) -> dict:
    import llama_cpp

    from core.llm.bundled import chat_model_path

    lib = Path(os.environ.get("LLAMA_CPP_LIB_PATH") or Path(llama_cpp.__file__).parent / "lib")
    gpus = [text for kind, text in devices(lib) if kind in GPU_TYPES]
    if gpu and not (llama_cpp.llama_supports_gpu_offload() and gpus):
        return {"ok": False, "device": "", "why": "no GPU device found"}
    model = llama_cpp.Llama(
        str(chat_model_path()),
        n_ctx=64,
        n_gpu_layers=(1 if tokens == 1 else -1) if gpu else 0,  # a measurement: all of it
        n_threads=1,
        verbose=False,
    )
    prompt = model.tokenize(PROMPT.encode())
    model.eval(prompt)
    made: list[int] = []
    started = time.perf_counter()
    while len(made) < tokens:
        token = model.sample(temp=0.0)
        if token < 0 or token == model.token_eos():
            break
        made.append(token)
        model.eval([token])
    took = time.perf_counter() - started
    text = model.detokenize(made).decode(errors="replace")
    model.close()
    if not made:
        return {"ok": False, "device": "", "why": "the model decoded nothing"}
    answer = {"ok": True, "device": gpus[0] if gpu else "", "why": ""}
    if tokens > 1:  # a measurement (bench.llama_builds), not a probe
        answer.update(text=text, tokens=len(made), decode_tok_s=round(len(made) / took, 1))
    return answer


def main() -> None:
    try:
        args = sys.argv[1:]
        tokens = int(args[args.index("--tokens") + 1]) if "--tokens" in args else 1
        answer = run("--gpu" in args, tokens)
    except Exception as exc:  # the parent reads the reason, whatever it is
        answer = {"ok": False, "device": "", "why": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
