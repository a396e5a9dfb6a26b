"""Which llama.cpp build this process loads, chosen before anything imports llama_cpp.

A bundle carries several builds of llama.cpp's library (packaging/llama_builds.py), each a
folder with `mnemo-build.json` beside the libraries; a source checkout has the one its wheel
installed. llama-cpp-python loads its library from LLAMA_CPP_LIB_PATH when that is set, so
choosing is setting it, once, before the first import (`ensure`).

The order: the user's choice (Settings → Models, or MNEMO_LLAMA_BUILD), else the first GPU
build whose probe passes, else the best CPU build for this CPU's flags. Every build is tried
in a child process before this one loads it (core.llm.probe): a build this CPU cannot run dies
there with SIGILL, and a broken GPU driver crashes there, never the app. What a probe found is
kept (llama-builds.json in the cache folder) under the build's files and the CPU, so a start
probes only what changed; a build whose probe crashed is remembered as bad and not tried again.
"""

import hashlib
import importlib.util
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from core.child import module_command
from core.errors import MnemoError

log = logging.getLogger(__name__)

INFO_NAME = "mnemo-build.json"
CHOICE_ENV = "MNEMO_LLAMA_BUILD"
BUILDS_ENV = "MNEMO_LLAMA_BUILDS"  # a folder of build folders, as a bundle has
LIB_ENV = "LLAMA_CPP_LIB_PATH"  # read by llama-cpp-python when it loads
WRAPPER_ENV = "MNEMO_LLAMA_PROBE_WRAPPER"
PROBE_TIMEOUT_S = 120

# What each CPU variant needs from the CPU, and how it is named to the user; a GPU variant
# runs on any CPU its CPU part was built for (cpu-avx2's flags).
CPU_NEEDS = {
    "cpu-avx2": ("sse4_2", "avx", "avx2", "fma", "f16c", "bmi2"),
    "cpu-compat": ("sse4_2",),
}
LABELS = {
    "cpu-avx2": "CPU (AVX2)",
    "cpu-compat": "CPU (compatible, no AVX)",
    "vulkan": "Vulkan",
    "cuda": "CUDA",
    "metal": "Metal",
}
GPU_ORDER = ("cuda", "metal", "vulkan")  # the GPU builds, in the order they are preferred


class BuildUnavailable(MnemoError):
    """The llama.cpp build asked for cannot run here (missing, or this CPU lacks its flags)."""


@dataclass(frozen=True)
class Build:
    variant: str  # cpu-avx2, cpu-compat, vulkan, cuda, metal; "unknown" for a foreign wheel
    lib: Path  # the folder of libllama and the ggml libraries
    installed: bool = False  # the wheel's own folder: loaded without LLAMA_CPP_LIB_PATH

    @property
    def gpu(self) -> bool:
        return self.variant in GPU_ORDER

    @property
    def needs(self) -> tuple[str, ...]:
        return CPU_NEEDS.get(self.variant, CPU_NEEDS["cpu-avx2"] if self.gpu else ())

    def label(self, device: str = "") -> str:
        name = LABELS.get(self.variant, "llama.cpp (build unknown)")
        return f"{name}: {device}" if device and self.gpu else name


@dataclass(frozen=True)
class Chosen:
    build: Build
    device: str  # the GPU's name, from the probe ("" on a CPU build)
    why: str  # how it was chosen, for the log and Settings

    @property
    def label(self) -> str:
        return self.build.label(self.device)


def _variant(lib: Path) -> str:
    try:
        return str(json.loads((lib / INFO_NAME).read_text())["variant"])
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown"


def installed() -> Build | None:
    """The build llama-cpp-python's wheel carries (found without importing it)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return Build(_variant(lib), lib, installed=True) if lib.is_dir() else None


def bundled(root: Path | None = None) -> list[Build]:
    """The builds a bundle carries: each folder of `root` (MNEMO_LLAMA_BUILDS, or
    llama_builds/ in a frozen app) that has mnemo-build.json."""
    if root is None:
        named = os.environ.get(BUILDS_ENV)
        frozen = getattr(sys, "_MEIPASS", None)
        root = Path(named) if named else Path(frozen) / "llama_builds" if frozen else None
    if root is None or not root.is_dir():
        return []
    return [
        Build(_variant(lib), lib) for lib in sorted(root.iterdir()) if (lib / INFO_NAME).is_file()
    ]


def here() -> list[Build]:
    """The builds this installation has: a bundle's, else the installed wheel's."""
    found = bundled()
    if not found:
        own = installed()
        found = [own] if own else []
    return found


def cpu_flags() -> set[str]:
    """This CPU's flags as Linux reports them; empty where it does not (then only the probe
    tells whether a build runs)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    found = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return set(found[1].split()) if found else set()


def lacking(build: Build, flags: set[str]) -> list[str]:
    """The CPU flags `build` needs that this CPU lacks (none where Linux does not say)."""
    return [flag for flag in build.needs if flags and flag not in flags]


# -- probing --------------------------------------------------------------------------------


def _cache_file() -> Path:
    return Path(platformdirs.user_cache_dir("mnemo", False)) / "llama-builds.json"


def _key(build: Build, flags: set[str]) -> str:
    """What a probe's verdict holds for: the build's library files and this CPU."""
    parts = [str(build.lib.resolve())]
    for path in sorted(build.lib.glob("lib*")):
        stat = path.stat()
        parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    parts.append(" ".join(sorted(flags)))
    if build.gpu:
        parts += _gpu_fingerprint()
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# What a GPU probe's answer depends on besides the build: the devices it may use and the
# drivers installed (a driver installed later must be found, not a "no GPU" kept forever).
GPU_ENV = ("GGML_VK_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES", "VK_ICD_FILENAMES")
GPU_PLACES = ("/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/dev/dri", "/proc/driver/nvidia")


def _gpu_fingerprint() -> list[str]:
    found = [f"{name}={os.environ.get(name, '')}" for name in GPU_ENV]
    for place in map(Path, GPU_PLACES):
        try:
            found += [f"{p}:{p.stat().st_mtime_ns}" for p in sorted(place.iterdir())]
        except OSError:
            continue
    return found


def _read_cache() -> dict[str, dict]:
    try:
        found = json.loads(_cache_file().read_text())
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(cache: dict[str, dict]) -> None:
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache: probes run again next time, nothing worse
        log.warning("could not keep what the llama.cpp probes found: %s", exc)


def probe_command() -> list[str]:
    """How to start the probe (core.child), under MNEMO_LLAMA_PROBE_WRAPPER when set (an
    emulator of another CPU, as bench.llama_builds runs it: `qemu-x86_64 -cpu Nehalem`)."""
    return [*shlex.split(os.environ.get(WRAPPER_ENV, "")), *module_command("core.llm.probe")]


def probe(build: Build) -> dict:
    """Run the probe on `build` in a child process: {"ok", "device", "why"}."""
    env = {**os.environ, LIB_ENV: str(build.lib)}
    if build.installed:
        env.pop(LIB_ENV, None)
    try:
        done = subprocess.run(
            [*probe_command(), "--gpu" if build.gpu else "--cpu"],
            env=env,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "device": "", "why": f"its probe hung for {PROBE_TIMEOUT_S} s"}
    if done.returncode < 0:
        signal = -done.returncode
        why = (
            "this CPU cannot run it (SIGILL)"
            if signal == 4
            else f"its probe died (signal {signal})"
        )
        return {"ok": False, "device": "", "why": why, "crashed": True}
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        return {
            "ok": bool(answer["ok"]),
            "device": str(answer.get("device", "")),
            "why": str(answer.get("why", "")),
        }
    except (ValueError, IndexError, KeyError, TypeError):
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"ok": False, "device": "", "why": f"its probe failed: {tail[0]}"}


def verdict(build: Build, flags: set[str]) -> dict:
    """What the probe says of `build` on this CPU, probing only when nothing is kept for it."""
    cache, key = _read_cache(), _key(build, flags)
    if key not in cache:
        cache[key] = probe(build)
        cache[key]["variant"] = build.variant
        _write_cache(cache)
        log.info("llama.cpp build %s probed: %s", build.variant, cache[key])
    return cache[key]


# -- choosing -------------------------------------------------------------------------------


def choose(choice: str | None = None, builds: list[Build] | None = None) -> Chosen:
    """The build to load: `choice` (a variant; "auto" or None: the best that runs here)."""
    choice = choice or os.environ.get(CHOICE_ENV) or "auto"
    if builds is None:
        builds = here()
    if not builds:
        raise BuildUnavailable("llama-cpp-python is not installed; run `make setup`")
    flags = cpu_flags()
    if choice != "auto":
        build = next((b for b in builds if b.variant == choice), None)
        if build is None:
            have = ", ".join(b.variant for b in builds)
            raise BuildUnavailable(f"no llama.cpp build {choice!r} here (there is: {have})")
        return _checked(build, flags, "chosen in Settings")
    refused: list[str] = []
    gpus = sorted((b for b in builds if b.gpu), key=lambda b: GPU_ORDER.index(b.variant))
    for build in gpus:
        found = _passes(build, flags, refused)
        if found:
            return Chosen(build, found["device"], "a GPU was found")
    # The CPU builds, the one that uses the most of the CPU first.
    for build in sorted((b for b in builds if not b.gpu), key=lambda b: -len(b.needs)):
        if _passes(build, flags, refused):
            return Chosen(build, "", "; ".join(["the best for this CPU", *refused]))
    raise BuildUnavailable("no llama.cpp build runs here: " + "; ".join(refused))


def _passes(build: Build, flags: set[str], refused: list[str]) -> dict | None:
    """The probe's verdict where `build` runs here; else None, and why in `refused`."""
    missing = lacking(build, flags)
    if missing:
        refused.append(f"{build.label()}: this CPU lacks {', '.join(missing)}")
        return None
    found = verdict(build, flags)
    if not found["ok"]:
        refused.append(f"{build.label()}: {found['why']}")
        return None
    return found


def _checked(build: Build, flags: set[str], why: str) -> Chosen:
    missing = lacking(build, flags)
    if missing:
        raise BuildUnavailable(
            f"the {build.variant} build of llama.cpp cannot run on this CPU: it lacks "
            f"{', '.join(missing)}"
        )
    found = verdict(build, flags)
    if not found["ok"]:
        raise BuildUnavailable(
            f"the {build.variant} build of llama.cpp cannot run here: {found['why']}"
        )
    return Chosen(build, found["device"], why)


_lock = threading.Lock()
_chosen: Chosen | None = None


def ensure(choice: str | None = None) -> Chosen:
    """Choose once per process and point llama-cpp-python at the build. Later calls return
    the first choice: a library once loaded stays (a new choice applies at the next start)."""
    global _chosen
    with _lock:
        if _chosen is None:
            if "llama_cpp" in sys.modules:  # imported directly (a benchmark, a test): say which
                _chosen = _loaded_already()
                return _chosen
            chosen = choose(choice)
            if chosen.build.installed:
                os.environ.pop(LIB_ENV, None)
            else:
                os.environ[LIB_ENV] = str(chosen.build.lib)
            log.info("llama.cpp: %s (%s)", chosen.label, chosen.why)
            _chosen = chosen
        return _chosen


def _loaded_already() -> Chosen:
    named = os.environ.get(LIB_ENV)
    build = Build(_variant(Path(named)), Path(named)) if named else installed()
    if build is None:
        raise BuildUnavailable("llama_cpp is loaded from a place Mnemo cannot tell")
    return Chosen(build, "", "loaded before a choice was made")


def current() -> Chosen | None:
    """The build this process chose, if it has chosen."""
    return _chosen
