"""Downloading model files from the Hugging Face Hub: resumable, with progress, verified.

huggingface_hub finds the file (HF_ENDPOINT is honoured, read at call time so a test or a
mirror can set it) and streams it with retries. Mnemo keeps the partial file as
`<name>.part` beside a note of the version it belongs to, so a download cut off by a crash, a
closed laptop or the user resumes where it stopped, even in a later run; huggingface_hub 2.x
deletes its partial files on failure. The finished file must have the size the Hub announced,
the SHA-256 the Hub records for it (its LFS etag), and a valid GGUF header before it takes its
final name: a file under that name is always whole.
"""

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import MnemoError
from core.llm.gguf_file import read_header

log = logging.getLogger(__name__)
Progress = Callable[[int, int | None], None]  # (bytes done, bytes in all when known)
_SHA256 = re.compile(r"[0-9a-f]{64}")


class DownloadFailed(MnemoError):
    """The file could not be fetched or did not verify; what was fetched is kept to resume."""


class DownloadCancelled(DownloadFailed):
    """Stopped by the user; the partial file stays and the next download resumes it."""


def download(
    repo_id: str,
    filename: str,
    folder: Path,
    *,
    revision: str = "main",
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Fetch `filename` from `repo_id` into `folder` and return its path.

    A file already there with the Hub's size and checksum is returned without a download.
    """
    import httpx2  # huggingface_hub 2.x's HTTP client; its errors are not OSErrors
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import http_get

    endpoint = os.environ.get("HF_ENDPOINT") or None
    name = Path(filename).name
    dest, part = folder / name, folder / f"{name}.part"
    note = folder / f"{name}.part.json"
    try:
        meta = get_hf_file_metadata(
            hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint), endpoint=endpoint
        )
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise DownloadFailed(f"{repo_id}/{filename} is not on the Hub (HTTP {status})") from exc
    except (httpx2.HTTPError, OSError, ValueError) as exc:
        raise DownloadFailed(f"cannot reach the Hub for {repo_id}/{filename}: {exc}") from exc
    sha256 = meta.etag if meta.etag and _SHA256.fullmatch(meta.etag) else None

    folder.mkdir(parents=True, exist_ok=True)
    already = dest.exists() and dest.stat().st_size == meta.size
    if already and (sha256 is None or _sha256(dest) == sha256):
        return dest

    version = {"repo": repo_id, "file": filename, "etag": meta.etag, "size": meta.size}
    resume = 0
    if part.exists() and _read_note(note) == version:
        resume = part.stat().st_size
    else:
        part.unlink(missing_ok=True)
    _write_note(note, version)
    if meta.size is not None and resume > meta.size:  # never a valid prefix
        part.unlink()
        resume = 0
    log.info("downloading %s/%s (%s bytes, resuming at %d)", repo_id, filename, meta.size, resume)

    bar = _progress_class(progress, cancel)
    try:
        with part.open("ab") as out:
            http_get(
                meta.location, out, resume_size=resume, expected_size=meta.size, tqdm_class=bar
            )
    except DownloadCancelled:
        raise
    except (HfHubHTTPError, httpx2.HTTPError, OSError) as exc:
        raise DownloadFailed(
            f"downloading {filename} failed after {part.stat().st_size:,} bytes ({exc}); "
            "run the same download again to resume"
        ) from exc

    if sha256 is not None and _sha256(part) != sha256:
        part.unlink()
        note.unlink(missing_ok=True)
        raise DownloadFailed(f"{filename} does not match the Hub's checksum; it was deleted")
    if name.endswith(".gguf"):
        try:
            read_header(part)
        except MnemoError as exc:
            part.unlink()
            note.unlink(missing_ok=True)
            raise DownloadFailed(f"{filename} is not a usable model: {exc}") from exc
    os.replace(part, dest)
    note.unlink(missing_ok=True)
    return dest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _read_note(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _write_note(path: Path, version: dict[str, Any]) -> None:
    path.write_text(json.dumps(version), "utf-8")


def _progress_class(progress: Progress | None, cancel: threading.Event | None) -> type:
    """A stand-in for the tqdm class huggingface_hub drives: it reports to `progress` and
    raises DownloadCancelled from inside the transfer when `cancel` is set."""

    class _Bar:
        def __init__(self, *args: Any, total: int | None = None, initial: int = 0, **_: Any):
            self.total, self.n = total, initial
            if progress:
                progress(self.n, self.total)

        def __enter__(self) -> "_Bar":
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def update(self, n: int = 1) -> None:
            self.n += n
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled("the download was cancelled; run it again to resume")
            if progress:
                progress(self.n, self.total)

    return _Bar
