"""The one settings file: `settings.toml` in the data folder, validated by pydantic.

A missing file means defaults; a malformed one is an error that names the file and the field,
never a silent reset (the user may have put hours into their exclusion rules).
"""

import os
import tomllib
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import InvalidInput

FILENAME = "settings.toml"


class _Section(BaseModel):
    # inf and nan pass `ge=0` and then break what uses them (a timedelta, an int of bytes).
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class SearchSettings(_Section):
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant")
    keyword_weight: float = Field(1.0, ge=0)
    vector_weight: float = Field(1.0, ge=0)
    source_vector_weight: float = Field(
        0.25, ge=0, description="Weight of vectors when searching verbatim sources (see there)"
    )
    source_rrf_k: int = Field(
        10, ge=1, description="Reciprocal-rank-fusion constant when searching verbatim sources"
    )
    recency_weight: float = Field(0.3, ge=0, description="Weight of the recency ranking")
    candidates: int = Field(50, ge=1, le=1000, description="Hits taken from each ranking")
    keyword_budget: int = Field(
        1000, ge=100, description="Rows a keyword query may score over all history (see search)"
    )
    min_similarity: float = Field(
        0.1, ge=-1, le=1, description="Vector hits below this cosine similarity are noise"
    )


class IndexSettings(_Section):
    ann_min_rows: int = Field(
        50_000, ge=256, description="Build an IVF vector index once this many vectors exist"
    )
    probe_share: float = Field(
        0.1, gt=0, le=1, description="Share of indexed vectors a query scans (recall vs speed)"
    )


class SecuritySettings(_Section):
    use_keyring: bool = Field(
        True, description="Keep the vault key in the OS keyring; if false, in a 0600 key file"
    )


class OpenAISettings(_Section):
    base_url: str = Field(
        "http://127.0.0.1:8080/v1",
        description="An OpenAI-compatible server: llama-server, Ollama (:11434/v1), LM Studio",
    )
    api_key_env: str = Field(
        "MNEMO_OPENAI_API_KEY",
        description="Environment variable holding the API key, if the server needs one",
    )
    timeout_s: float = Field(120, gt=0)


class ModelSettings(_Section):
    chat: str = Field(
        "smollm2-135m",
        description="Chat model: a name from `mnemo models list`, a GGUF path, or openai:<model>",
    )
    embedding: str = Field("all-minilm-l6-v2", description="Embedding model, named the same way")
    added: list[str] = Field(
        default_factory=list, description="GGUF files added with `mnemo models add`, by path"
    )
    context_length: int = Field(4096, ge=512, description="Chat context, in tokens")
    gpu_layers: int = Field(
        -1, ge=-1, description="Layers offloaded to the GPU when the build has one; -1 = all"
    )
    threads: int = Field(0, ge=0, description="CPU threads for llama.cpp; 0 = all cores but one")
    llama_build: str = Field(
        "auto",
        description="llama.cpp build: auto (a GPU build where one works, else the best for this "
        "CPU) or one by name (cpu-avx2, cpu-compat, vulkan, cuda, metal); applies at next start",
    )
    openai: OpenAISettings = OpenAISettings()


class AgentSettings(_Section):
    writer: Literal["auto", "extractive", "abstractive"] = Field(
        "auto",
        description="How chat memories are written: extractive (code keeps the person's own "
        "lines, for small models), abstractive (the model writes them, behind the quality "
        "gate), or auto (extractive for models under a billion parameters)",
    )
    plan_queries: bool = Field(
        False,
        description="Let the chat model propose search queries besides the question. Off by "
        "default: the bundled 135M model's queries lowered LoCoMo recall@10 from 0.72 to 0.59 on "
        "a development conversation; "
        "turn it on with a capable model.",
    )
    answer_budget_tokens: int = Field(
        1200, ge=100, le=100_000, description="Tokens of notes an answer's prompt may hold"
    )
    consolidate_every_hours: float = Field(24, gt=0, description="How often the app consolidates")


class ExclusionSettings(_Section):
    apps: list[str] = Field(
        default_factory=list, description="Programs never recorded, by name (WM_CLASS or process)"
    )
    title_patterns: list[str] = Field(
        default_factory=list, description="Regular expressions on window titles never recorded"
    )
    domains: list[str] = Field(
        default_factory=list, description="Web domains never recorded (subdomains included)"
    )
    use_defaults: bool = Field(
        True,
        description="Also exclude password managers, private/incognito windows and Mnemo's own "
        "(resources/exclusions.toml)",
    )


class CaptureSettings(_Section):
    interval_s: float = Field(3.0, ge=0.5, le=3600, description="Seconds between screenshots")
    monitors: list[int] = Field(
        default_factory=list, description="Monitors to capture, numbered from 1; empty = all"
    )
    keyframe_s: float = Field(
        300, ge=10, description="Keep a frame at least this often even when little changed"
    )
    idle_after_s: float = Field(
        300, ge=0, description="Stop recording after this long without input; 0 = never"
    )
    ocr: bool = Field(True, description="Read the text of changed screen regions (RapidOCR)")
    ocr_threads: int = Field(1, ge=1, le=64, description="CPU threads OCR may use")
    ocr_settle_s: float = Field(
        12,
        ge=0,
        description="While the screen keeps changing in places (typing, scrolling), "
        "read it at most this often; a still screen or a new window is read at once",
    )
    thumbnail_every_s: float = Field(
        60,
        ge=0,
        description="Save a picture at most this often while the same window changes "
        "a little (app switches and big changes always get one)",
    )
    thumbnail_scale: float = Field(0.5, gt=0, le=1, description="Picture size, share of screen")
    thumbnail_quality: int = Field(50, ge=1, le=100, description="WebP quality of pictures")
    retention_days: float = Field(
        30, ge=0, description="Pictures older than this are deleted (their text stays); 0 = keep"
    )
    disk_budget_mb: float = Field(
        2000, ge=1, description="Pictures beyond this size are deleted, oldest first"
    )
    batch_captures: int = Field(
        20, ge=1, description="Hand captures to the memory agents after this many…"
    )
    batch_minutes: float = Field(10, gt=0, description="…or after this many minutes")
    queue_frames: int = Field(
        4, ge=1, le=100, description="Frames waiting for OCR; beyond it the oldest are merged"
    )
    exclusions: ExclusionSettings = ExclusionSettings()


class PrivacySettings(_Section):
    redact_emails: bool = Field(
        False, description="Also redact email addresses before anything is stored"
    )
    redact_phones: bool = Field(
        False, description="Also redact phone numbers before anything is stored"
    )


class BackupSettings(_Section):
    every_hours: float = Field(
        0,
        ge=0,
        description="Back up the store this often while the app runs; 0 = only by hand "
        "(`mnemo backup`). Off by default: a backup keeps what you delete later, until it is "
        "itself deleted",
    )
    keep: int = Field(3, ge=1, le=1000, description="Scheduled backups kept; older ones go")
    folder: str = Field(
        "", description="Where scheduled backups go; empty = `backups` in the data folder"
    )


class ServeSettings(_Section):
    """Mnemo as the memory of other tools (`mnemo mcp`, the loopback HTTP API)."""

    share_vault_values: bool = Field(
        False,
        description="Let other tools (MCP clients, scripts) read the values of low- and "
        "medium-sensitivity vault items. High-sensitivity values are never given out",
    )
    allow_writes: bool = Field(
        False,
        description="Let other tools add memories and hand text to the memory team (MCP "
        "add_memory and remember, the API's POSTs). Off by default: what they write goes into "
        "the answers of your own assistant. One switch for every tool, since a tool names "
        "itself and any program can take another's name; no tool ever edits the persona",
    )
    share_screen_text: bool = Field(
        False,
        description="Let other tools search and read the text kept from your screen. Off by "
        "default: it holds whatever was on screen (mail, other people's messages, documents); "
        "memories written from it are shared either way",
    )
    port: int = Field(8767, ge=1024, le=65535, description="Port of `mnemo mcp --http`")


class AppSettings(_Section):
    first_run_done: bool = Field(False, description="The welcome has been shown")
    start_at_login: bool = Field(
        False, description="Start Mnemo (in the tray) when you log in (an XDG autostart entry)"
    )
    capture_on_start: bool = Field(
        False,
        description="Start capturing when the app starts. Off until you agree to capture in "
        "the app; nothing is ever captured without that consent",
    )


class Settings(_Section):
    models: ModelSettings = ModelSettings()
    agents: AgentSettings = AgentSettings()
    search: SearchSettings = SearchSettings()
    index: IndexSettings = IndexSettings()
    security: SecuritySettings = SecuritySettings()
    capture: CaptureSettings = CaptureSettings()
    privacy: PrivacySettings = PrivacySettings()
    backup: BackupSettings = BackupSettings()
    serve: ServeSettings = ServeSettings()
    app: AppSettings = AppSettings()

    @classmethod
    def load(cls, folder: Path) -> "Settings":
        path = folder / FILENAME
        if not path.exists():
            return cls()
        try:
            return cls.model_validate(tomllib.loads(path.read_text("utf-8")))
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{path} is not UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"{path} is not valid TOML: {exc}") from exc
        except RecursionError:  # tomllib recurses once per level of nesting
            raise InvalidInput(f"{path} is not valid TOML: nested too deeply") from None
        except ValidationError as exc:
            # One line, each wrong field by its place, as `mnemo: …` prints it.
            errors = exc.errors()
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))[:80] or 'top level'}: {e['msg']}"
                for e in errors[:5]
            )
            more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
            raise InvalidInput(f"{path} has invalid settings: {problems}{more}") from exc

    def save(self, folder: Path) -> Path:
        """Write atomically: a crash mid-write leaves the old file, never half a new one."""
        path = folder / FILENAME
        tmp = path.with_suffix(".toml.tmp")
        tmp.write_text(tomli_w.dumps(self.model_dump(mode="json")), "utf-8")
        os.replace(tmp, path)
        return path
