"""Which models this machine has, which ones Mnemo uses, and getting more.

Every model has a name: the bundled ones a short name, downloaded and added GGUF files their
file name without `.gguf`, models on an OpenAI-compatible server `openai:<model>`. The choice of
chat and embedding model lives in settings.toml (`[models]`), so the CLI, the GUI and a restart
all see the same one.
"""

import logging
import threading
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from core.embed import Embedder
from core.errors import InvalidInput, NotFound
from core.llm import bundled, download, gpu_offload, minilm
from core.llm.chat import ChatModel, LlamaChat
from core.llm.gguf_file import GGUFHeader, InvalidModelFile, read_header
from core.settings import Settings

log = logging.getLogger(__name__)

Role = Literal["chat", "embedding"]
ROLES: tuple[Role, ...] = ("chat", "embedding")
BUNDLED_CHAT = "smollm2-135m"
SMALL_PARAMETERS = 1_000_000_000  # below this a chat model does not write memories itself
BUNDLED_EMBEDDING = "all-minilm-l6-v2"
SERVER_PREFIX = "openai:"
_DERIVED = {bundled.CHAT_Q8_FILE, minilm.FILENAME}  # files made from the bundled models


@dataclass(frozen=True)
class ModelEntry:
    name: str
    origin: Literal["bundled", "downloaded", "added", "file", "server"]
    path: Path | None  # None: on a server, or a bundled model not yet converted


@dataclass(frozen=True)
class Recommended:
    name: str
    role: str
    repo: str
    file: str
    size: str
    about: str
    mmproj: str | None = None


def recommended() -> list[Recommended]:
    """Models worth downloading for real use (resources/models.toml)."""
    text = resources.files("resources").joinpath("models.toml").read_text("utf-8")
    return [Recommended(**row) for row in tomllib.loads(text)["model"]]


class ModelManager:
    def __init__(self, folder: Path, settings: Settings | None = None) -> None:
        self.folder = folder
        self.settings = settings or Settings.load(folder)
        self.models_dir = folder / "models"

    # -- what there is -------------------------------------------------------------------

    def entries(self) -> list[ModelEntry]:
        """Bundled, downloaded and added models, then those in use on a server."""
        q8 = self.models_dir / bundled.CHAT_Q8_FILE
        try:
            chat_path: Path | None = q8 if q8.exists() else bundled.chat_model_path()
        except bundled.ModelMissing:
            chat_path = None
        embedding_path = self.models_dir / minilm.FILENAME
        found = [
            ModelEntry(BUNDLED_CHAT, "bundled", chat_path),
            ModelEntry(
                BUNDLED_EMBEDDING, "bundled", embedding_path if embedding_path.exists() else None
            ),
        ]
        if self.models_dir.is_dir():
            for path in sorted(self.models_dir.glob("*.gguf")):
                if path.name not in _DERIVED:
                    found.append(ModelEntry(path.stem, "downloaded", path))
        for added in self.settings.models.added:
            found.append(ModelEntry(Path(added).stem, "added", Path(added)))
        for role in ROLES:
            ref = self.in_use(role)
            if ref.startswith(SERVER_PREFIX) and all(e.name != ref for e in found):
                found.append(ModelEntry(ref, "server", None))
        return found

    def in_use(self, role: Role) -> str:
        return str(getattr(self.settings.models, role))

    def find(self, ref: str) -> ModelEntry:
        """The model called `ref` (any case), a GGUF file at path `ref`, or openai:<model>."""
        if ref.startswith(SERVER_PREFIX):
            if not ref[len(SERVER_PREFIX) :]:
                raise InvalidInput("name the server's model after openai:, e.g. openai:qwen2.5:3b")
            return ModelEntry(ref, "server", None)
        matches = [e for e in self.entries() if e.name.lower() == ref.lower()]
        if matches:
            return matches[0]
        path = Path(ref).expanduser()
        if path.is_file():
            return ModelEntry(path.stem, "file", path.resolve())
        raise NotFound(f"no model called {ref!r}; see `mnemo models list`")

    def header(self, entry: ModelEntry) -> GGUFHeader | None:
        """The GGUF header of a local model (converting a bundled one first)."""
        if entry.origin == "server":
            return None
        return read_header(self.path(entry))

    def path(self, entry: ModelEntry) -> Path:
        if entry.name == BUNDLED_CHAT and entry.origin == "bundled":
            return bundled.chat_model(self.models_dir)
        if entry.name == BUNDLED_EMBEDDING and entry.origin == "bundled":
            return minilm.gguf_path(self.models_dir)
        if entry.path is None:
            raise InvalidInput(f"{entry.name} is on a server, not a file")
        return entry.path

    def info(self, ref: str) -> dict[str, Any]:
        """What a user wants to know before choosing a model."""
        entry = self.find(ref)
        roles = [role for role in ROLES if self.is_in_use(role, entry)]
        if entry.origin == "server":
            url = self._server().base_url
            return {"name": entry.name, "origin": "server", "url": url, "in_use_for": roles}
        header = self.header(entry)
        assert header is not None
        kind = "chat"
        if header.is_projector:
            kind = "projector"
        elif header.is_embedding_model:
            kind = "embedding"
        layers = (header.block_count or 0) + 1  # the blocks and the output layer
        wanted = self.settings.models.gpu_layers
        gpu = gpu_offload()
        trained = header.context_length
        context = self.settings.models.context_length if kind == "chat" else trained
        return {
            "name": entry.name,
            "origin": entry.origin,
            "path": str(header.path),
            "size_bytes": header.size,
            "architecture": header.architecture,
            "kind": kind,
            "parameters": header.parameters,
            "quantization": header.quantization,
            "context_length_trained": trained,
            "context_length_used": min(context, trained) if context and trained else context,
            "embedding_length": header.embedding_length,
            "layers": layers,
            "gpu_build": gpu,
            "gpu_layers": (layers if wanted < 0 else min(wanted, layers)) if gpu else 0,
            "in_use_for": roles,
        }

    def is_in_use(self, role: Role, entry: ModelEntry) -> bool:
        current = self.in_use(role)
        if current.lower() == entry.name.lower():
            return True
        return entry.path is not None and Path(current).expanduser() == entry.path

    # -- changing it ---------------------------------------------------------------------

    def add(self, path: str | Path) -> ModelEntry:
        """Register a GGUF file where it is (models are gigabytes: no copy). Its header is
        checked first, so a truncated or foreign file is refused with the reason."""
        path = Path(path).expanduser().resolve()
        read_header(path)
        clash = [e for e in self.entries() if e.name.lower() == path.stem.lower()]
        if clash and clash[0].path != path:
            raise InvalidInput(f"a model called {path.stem!r} exists already ({clash[0].path})")
        if str(path) not in self.settings.models.added:
            self.settings.models.added = [*self.settings.models.added, str(path)]
            self.settings.save(self.folder)
        return ModelEntry(path.stem, "added", path)

    def use(self, role: Role, ref: str) -> ModelEntry:
        """Make `ref` the model for `role`, after checking that it can do that job."""
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        entry = self.find(ref)
        header = self.header(entry)
        if header is not None:
            if header.is_projector:
                raise InvalidInput(f"{entry.name} is a vision projector (mmproj), not a model")
            if role == "embedding" and not header.is_embedding_model:
                raise InvalidInput(f"{entry.name} is a chat model, not an embedding model")
            if role == "chat" and header.is_embedding_model:
                raise InvalidInput(f"{entry.name} is an embedding model; it cannot chat")
        value = str(entry.path) if entry.origin == "file" else entry.name
        setattr(self.settings.models, role, value)
        self.settings.save(self.folder)
        return entry

    def download(
        self,
        what: str,
        filename: str | None = None,
        *,
        progress: download.Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> list[ModelEntry]:
        """Fetch a recommended model by name (with its projector, if it has one), or
        `filename` from the Hub repository `what`. Resumes an interrupted download."""
        if filename is None:
            choice = {r.name: r for r in recommended()}.get(what.lower())
            if choice is None:
                names = ", ".join(r.name for r in recommended())
                raise NotFound(f"{what!r} is not a recommended model ({names}); or give REPO FILE")
            files = [(choice.repo, choice.file)]
            if choice.mmproj:
                files.append((choice.repo, choice.mmproj))
        else:
            files = [(what, filename)]
        paths = [
            download.download(repo, name, self.models_dir, progress=progress, cancel=cancel)
            for repo, name in files
        ]
        return [ModelEntry(path.stem, "downloaded", path) for path in paths]

    # -- running them --------------------------------------------------------------------

    def chat_model(self) -> ChatModel:
        """The chat model in use, loaded on its first job (so this returns at once)."""
        from core.llm.openai_api import OpenAIChat

        entry = self.find(self.in_use("chat"))
        if entry.origin == "server":
            return OpenAIChat(self._server(), entry.name[len(SERVER_PREFIX) :])
        options = self.settings.models
        # A lambda: the bundled model's requantized copy is made on the model's thread, on
        # first use, not here.
        chat = LlamaChat.from_file(
            lambda: self.path(entry),
            name=entry.name,
            n_ctx=options.context_length,
            gpu_layers=options.gpu_layers,
            threads=options.threads,
        )
        if entry.name == BUNDLED_CHAT and entry.origin == "bundled":
            chat.small = True
        elif entry.path is not None:
            chat.small = self._checked("chat", entry).parameters < SMALL_PARAMETERS
        return chat

    def _checked(self, role: Role, entry: ModelEntry) -> GGUFHeader:
        """The header of the model in use for `role`; a file that is not whole (a download
        cut short, a bad copy) is refused naming it and what to do, before llama.cpp sees it."""
        try:
            header = self.header(entry)
        except InvalidModelFile as exc:
            raise InvalidModelFile(
                f"the {role} model {exc}; download it again, or choose another with "
                f"`mnemo models use {role} NAME` (the bundled one: "
                f"{BUNDLED_CHAT if role == 'chat' else BUNDLED_EMBEDDING})"
            ) from None
        assert header is not None
        return header

    def embedder(self) -> Embedder:
        """The embedding model in use. Its name records which model made the stored vectors,
        so choosing another one re-embeds the memories at the next start."""
        from core.llm.embed_order import QueriesFirst
        from core.llm.embedder import LlamaEmbedder
        from core.llm.openai_api import OpenAIEmbedder

        entry = self.find(self.in_use("embedding"))
        if entry.origin == "server":
            return OpenAIEmbedder(self._server(), entry.name[len(SERVER_PREFIX) :])
        # One model in this process, wanted by searches and by filing at once: a question's
        # query goes first (core.llm.embed_order).
        if entry.name == BUNDLED_EMBEDDING and entry.origin == "bundled":
            threads = self.settings.models.threads
            return QueriesFirst(LlamaEmbedder.bundled(self.models_dir, threads=threads))
        header = self._checked("embedding", entry)
        assert header.embedding_length
        return QueriesFirst(
            LlamaEmbedder(
                header.path,
                name=f"{entry.name}/{header.size}",
                dim=header.embedding_length,
                threads=self.settings.models.threads,
            )
        )

    def _server(self) -> Any:
        from core.llm.openai_api import OpenAIClient

        return OpenAIClient.from_settings(self.settings.models.openai)
