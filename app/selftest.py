"""`mnemo selftest`: every native part used for real, in a temporary data folder.

A bundle is only as good as what its freezer collected: a library or a model file left out
shows up as a crash on a user's machine, not in the build. This uses each part the way the
app does (llama.cpp on the chosen build, the embedding model, SQLite and LanceDB, spaCy, OCR,
a Qt window, the keyring) and prints one line per part; it exits 1 when any part fails.
"""

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.memory.models import SemanticMemory

LINE = "Mnemo remembers 42 things"  # rendered and read back by OCR


def _build(_folder: Path) -> str:
    from core.llm import builds

    chosen = builds.ensure()
    return f"{chosen.label} ({chosen.why})"


def _chat(folder: Path) -> str:
    from agents.host import Host

    with Host(folder, watch_s=None) as host:
        host.start(background=False)
        text = host.chat_model.complete(
            [{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0.0
        )
    if not text.strip():
        raise RuntimeError("the chat model wrote nothing")
    return f"the bundled chat model wrote {text.strip()[:40]!r}"


def _store(folder: Path) -> str:
    from agents.host import Host

    with Host(folder, watch_s=None) as host:
        host.start(background=False)
        memory = host.store.add(SemanticMemory(name="Selftest", summary="Lisbon trip in March"))
        hits = host.search("travel to Portugal", limit=3)
        dim = host.store.embedder.dim
    if not any(hit.memory.id == memory.id for hit in hits):
        raise RuntimeError("a memory just written was not found by its meaning")
    return f"SQLite and LanceDB wrote a memory; a {dim}-dimension embedding search found it"


def _spacy(_folder: Path) -> str:
    from agents import entities

    (found,) = entities.find(["Marta flew to Lisbon with Priya on Friday."])
    names = {f.name for f in found}
    if not {"Marta", "Lisbon"} <= names:
        raise RuntimeError(f"spaCy found {sorted(names)} in a sentence naming Marta and Lisbon")
    return "found " + ", ".join(f"{f.name} ({f.kind.value})" for f in found)


def _ocr(_folder: Path) -> str:
    from PIL import Image, ImageDraw, ImageFont

    from core.capture.ocr import Ocr

    image = Image.new("RGB", (720, 90), "white")
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.truetype(
            "DejaVuSans.ttf", 36
        )
    except OSError:
        font = ImageFont.load_default(size=36)
    ImageDraw.Draw(image).text((20, 20), LINE, fill="black", font=font)
    ocr = Ocr(threads=1)
    try:
        read = " ".join(line.text for line in ocr.read(image))
    finally:
        ocr.close()
    if "remembers" not in read:
        raise RuntimeError(f"OCR read {read!r} from a line saying {LINE!r}")
    return f"read {read!r}"


def _window(_folder: Path) -> str:
    from app.gui.preflight import problem

    cannot = problem()
    if cannot:
        raise RuntimeError(cannot)
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication([])
    label = QLabel("Mnemo selftest")
    label.show()
    app.processEvents()
    shot = label.grab()
    label.close()
    if shot.isNull():
        raise RuntimeError("Qt drew nothing")
    return f"Qt {app.platformName()} drew a window ({shot.width()}x{shot.height()})"


def _keyring(folder: Path) -> str:
    import keyring

    from core.secrets import SecretBox

    backend = keyring.get_keyring()
    try:
        keyring.get_password("mnemo-selftest", "nobody")  # a read: nothing is written there
        reached = f"keyring {type(backend).__name__} answers"
    except Exception as exc:  # no keyring here: the vault key goes to a user-only file
        reached = f"no keyring ({type(exc).__name__}); the fallback key file is used"
    box = SecretBox.open(folder, "selftest", location=None, use_keyring=False)
    if box.decrypt(box.encrypt("canary")) != "canary":
        raise RuntimeError("the vault's encryption did not round-trip")
    return reached


PARTS: list[tuple[str, Callable[[Path], str]]] = [
    ("llama.cpp", _build),
    ("chat model", _chat),
    ("store", _store),
    ("spaCy", _spacy),
    ("OCR", _ocr),
    ("window", _window),
    ("keyring", _keyring),
]


def run(*, window: bool = True, out: Callable[[str], None] = print) -> bool:
    """Each part in turn, a line each; True when every one worked."""
    ok = True
    with tempfile.TemporaryDirectory(prefix="mnemo-selftest-") as tmp:
        for name, part in PARTS:
            if name == "window" and not window:
                out(f"skip  {name:<10}  (--no-window)")
                continue
            folder = Path(tmp) / name.replace(" ", "-")
            folder.mkdir(mode=0o700)
            started = time.perf_counter()
            try:
                said = part(folder)
                mark = "ok  "
            except Exception as exc:
                ok, mark = False, "FAIL"
                said = f"{type(exc).__name__}: {exc}"
                traceback.print_exc(file=sys.stderr)
            took = time.perf_counter() - started
            out(f"{mark}  {name:<10}  {said}  [{took:.1f} s]")
    out("selftest: every part works" if ok else "selftest: FAILED (the traceback is above)")
    return ok


def add_commands(sub: Any) -> None:
    help = (
        "use every native part for real in a temporary folder (llama.cpp and the models, "
        "SQLite and LanceDB, spaCy, OCR, a Qt window, the keyring), a line each"
    )
    p = sub.add_parser("selftest", help=help, description=help)
    p.add_argument("--no-window", action="store_true", help="skip the Qt window (no display)")
    p.set_defaults(func=_command, needs_store=False)


def _command(_host: None, args: argparse.Namespace) -> int:
    return 0 if run(window=not args.no_window) else 1
