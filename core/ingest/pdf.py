"""The text of a PDF document, read with pypdf, for `mnemo ingest file`.

Only what a PDF holds as text is read: a scan (pictures of pages) has none and is refused, not
kept empty, since an empty source can never be found again. A PDF that needs a password, or that
pypdf cannot parse (cut off, corrupt), is refused whole: a document kept with half its pages
would look complete.
"""

import io
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ImportFailed

if TYPE_CHECKING:  # pypdf is imported when a PDF is read, not with the command line
    from pypdf import PdfReader

# A PDF's bytes are mostly fonts and pictures: the 2 MB limit applies to its text, and this to
# the file (checked before it is read), so that a scanned book is not parsed for nothing.
MAX_PDF_BYTES = 100_000_000
MAGIC = b"%PDF-"


def is_pdf(path: Path, head: bytes) -> bool:
    """Whether a file is to be read as a PDF: by its name, or by its first bytes."""
    return path.suffix.lower() == ".pdf" or head.lstrip()[:5] == MAGIC


def pdf_text(path: Path, data: bytes, limit: int) -> tuple[str, int]:
    """The text of every page, pages separated by a blank line, and the number of pages.
    `limit`: the most UTF-8 bytes of text read; a PDF with more is refused."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _unlocked(reader):
            raise FileNotDecryptedError("a password is needed")
        pages = []
        size = 0
        for page in reader.pages:
            text = (page.extract_text() or "").strip()
            size += len(text.encode("utf-8", "replace"))
            if size > limit:
                raise ImportFailed(
                    f"{path} holds over {limit // 1_000_000} MB of text; PDFs with up to "
                    f"{limit // 1_000_000} MB of text are read"
                )
            pages.append(text)
    except (FileNotDecryptedError, DependencyError):
        raise ImportFailed(
            f"{path} is encrypted: it needs a password to open; save an unlocked copy and "
            "ingest that"
        ) from None
    except ImportFailed:
        raise
    except Exception as exc:  # pypdf on a broken file raises many kinds (KeyError, zlib, …)
        raise ImportFailed(f"{path} is not a PDF Mnemo can read: {_one_line(exc)}") from None
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise ImportFailed(
            f"{path} has no text to read (a scan? run it through OCR first, then ingest that)"
        )
    # A lone surrogate from a broken font map cannot be stored (SQLite holds UTF-8).
    return text.encode("utf-8", "replace").decode("utf-8"), len(reader.pages)


def _unlocked(reader: "PdfReader") -> bool:
    """Most "encrypted" PDFs only restrict printing or copying and open without a password
    (an empty user password): those are read. Only a PDF that needs one is refused."""
    from pypdf import PasswordType

    return reader.decrypt("") != PasswordType.NOT_DECRYPTED


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
