"""llama.cpp's builds: how fast each decodes here, and that the compatible one needs no AVX.

    python -m bench.llama_builds [--tokens 64] [--runs 3] [--no-qemu]

Each variant of packaging/llama_builds.py (built there if missing, ~5-12 min each on 2 cores)
decodes the bundled chat model greedily in a process of its own (core.llm.probe --tokens; the
Vulkan build with every layer on Mesa's lavapipe, a software Vulkan device, here), `--runs`
times; the reference, the `-march=native` build that `make` made before the variants (found in
pip's wheel cache), is measured beside them where it is there. Mnemo's choice of build
(core.llm.builds) is shown with lavapipe visible and with no GPU. Then, under
`qemu-x86_64 -cpu Nehalem` (a CPU without AVX; Debian's qemu-user): the compatible build must
decode there, the AVX2 build must die there (SIGILL), and Mnemo's choice, its probes run under
the emulator, must pick the compatible one and say why. Prints a table, then one JSON line.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench.report import report

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("cpu-avx2", "cpu-compat", "vulkan")
LAVAPIPE = {"GGML_VK_VISIBLE_DEVICES": "0"}  # ggml skips a CPU's Vulkan device unless named
NEHALEM = ["qemu-x86_64", "-cpu", "Nehalem"]
TARGETS = {"decode_avx2_vs_native": "≥ 0.9", "avx_free_ok": "true", "avx2_refused_ok": "true"}


def variant_libs(variant: str, dest: Path) -> Path:
    script = ROOT / "packaging" / "llama_builds.py"
    subprocess.run(
        [sys.executable, script, "libs", variant, dest], check=True, stdout=subprocess.DEVNULL
    )
    return dest


def native_libs(dest: Path) -> Path | None:
    """The lib folder of the newest llama-cpp-python wheel in pip's cache that is none of the
    variants (no mnemo-build.json): the build `make` made for this CPU before them."""
    cache = Path(os.environ.get("PIP_CACHE_DIR") or Path.home() / ".cache" / "pip") / "wheels"
    for wheel in sorted(cache.rglob("llama_cpp_python-*.whl"), key=lambda p: -p.stat().st_mtime):
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            if any(name.endswith("mnemo-build.json") for name in names):
                continue
            for name in names:
                if name.startswith("llama_cpp/lib/") and not name.endswith("/"):
                    target = dest / name.removeprefix("llama_cpp/lib/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.read(name))
        return dest
    return None


def decode(lib: Path, tokens: int, wrapper: list[str] | None = None, *, gpu: bool = False) -> dict:
    env = {**os.environ, "LLAMA_CPP_LIB_PATH": str(lib), **(LAVAPIPE if gpu else {})}
    where = ["--gpu"] if gpu else []
    done = subprocess.run(
        [*(wrapper or []), sys.executable, "-m", "core.llm.probe", *where, "--tokens", str(tokens)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=ROOT,
    )
    if done.returncode < 0:
        return {"ok": False, "signal": -done.returncode}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"ok": False, "why": (done.stderr or "no output").strip()[-300:]}


def choice_under(wrapper: list[str], root: Path, cache: Path, extra: dict | None = None) -> dict:
    """Mnemo's choice among the builds in `root`, its probes run under `wrapper`."""
    code = (
        "import json; from core.llm import builds; c = builds.choose();"
        "print(json.dumps({'variant': c.build.variant, 'label': c.label, 'why': c.why}))"
    )
    env = {
        **os.environ,
        "MNEMO_LLAMA_BUILDS": str(root),
        "MNEMO_LLAMA_PROBE_WRAPPER": " ".join(wrapper),
        "XDG_CACHE_HOME": str(cache),  # what the probes find is kept here, not in the user's
        **(extra or {}),
    }
    env.pop("MNEMO_LLAMA_BUILD", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT
    )
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"variant": None, "why": (done.stderr or "no output").strip()[-300:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-qemu", action="store_true", help="skip the emulated old CPU")
    args = parser.parse_args()
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "builds"
        libs = {variant: variant_libs(variant, root / variant) for variant in VARIANTS}
        native = native_libs(Path(tmp) / "native")
        if native is not None:
            libs["native"] = native
        texts = {}
        for name, lib in libs.items():
            runs = [decode(lib, args.tokens, gpu=name == "vulkan") for _ in range(args.runs)]
            speeds = [run["decode_tok_s"] for run in runs if run.get("ok")]
            figures[f"decode_tok_s_{name}"] = statistics.median(speeds) if speeds else None
            figures[f"decode_tok_s_{name}_runs"] = speeds
            texts[name] = runs[0].get("text")
        if native is not None and figures["decode_tok_s_native"]:
            figures["decode_avx2_vs_native"] = round(
                (figures["decode_tok_s_cpu-avx2"] or 0) / figures["decode_tok_s_native"], 2
            )
        for name in texts:
            figures[f"text_{name}"] = texts[name]
        # The Vulkan build's choice: lavapipe (Mesa's software device) is a GPU to it only
        # when named; a machine without a GPU must get a CPU build.
        cache = Path(tmp) / "cache"
        figures["chosen_with_lavapipe"] = choice_under([], root, cache / "1", LAVAPIPE)
        figures["chosen_without_gpu"] = choice_under([], root, cache / "2")
        if not args.no_qemu:
            if shutil.which(NEHALEM[0]) is None:
                raise SystemExit("qemu-x86_64 is missing: apt-get install qemu-user (or --no-qemu)")
            old = decode(libs["cpu-compat"], 8, NEHALEM)
            figures["avx_free_ok"] = bool(old.get("ok"))
            figures["nehalem_text_cpu-compat"] = old.get("text", old.get("why"))
            refused = decode(libs["cpu-avx2"], 8, NEHALEM)
            figures["avx2_under_nehalem"] = (
                f"signal {refused['signal']}" if "signal" in refused else refused
            )
            chosen = choice_under(NEHALEM, root, cache / "3")
            figures["chosen_under_nehalem"] = chosen
            figures["avx2_refused_ok"] = chosen.get("variant") == "cpu-compat" and (
                "SIGILL" in str(chosen.get("why"))
            )
    rows = [(key, str(value), TARGETS.get(key, "")) for key, value in figures.items()]
    report(rows, figures)


if __name__ == "__main__":
    main()
