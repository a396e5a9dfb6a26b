"""The errors the engine raises on purpose; front ends turn them into messages and exit codes."""


class MnemoError(Exception):
    """Base class: anything the user can fix by changing their input or setup."""


class NotFound(MnemoError):
    """An id, prefix or name that matches nothing."""


class Ambiguous(MnemoError):
    """An id prefix that matches more than one record."""


class InvalidInput(MnemoError):
    """Input that fails validation; nothing was written."""


class ImportFailed(MnemoError):
    """An import file that is malformed somewhere; nothing was imported."""


class StorageFull(MnemoError):
    """The disk (or the database's size limit) is full; the write was rolled back whole."""


class ReadOnlyFolder(MnemoError):
    """The data folder cannot be written (a read-only mount or permissions); reads still work."""


class Changed(MnemoError):
    """A memory changed between being read and a write meant for what was read; nothing was
    written (the caller reads it again, or leaves it for its next run)."""


class Closed(MnemoError):
    """The store, the index or a model was closed (the app is quitting): the work that asked
    for it was refused before it started, and nothing of it was done. Front ends drop such
    late results quietly."""
