"""One logging setup for every front end: a rotating file in the data folder."""

import logging
import logging.handlers
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _LogFile(logging.handlers.RotatingFileHandler):
    def handleError(self, record: logging.LogRecord) -> None:
        # A full disk: the line is lost, and logging must not print a traceback to standard
        # error for every one (the app says the disk is full where the user looks).
        if not isinstance(sys.exc_info()[1], OSError):
            super().handleError(record)


def setup_logging(folder: Path, level: int = logging.INFO) -> Path:
    """Log to `mnemo.log` (1 MB × 3 files) under the data folder; returns the log's path."""
    path = folder / "mnemo.log"
    root = logging.getLogger()
    if not any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        try:
            handler = _LogFile(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
        except OSError:
            # A read-only data folder still opens for reading: without a log file, warnings
            # and errors go to standard error (logging's last resort) instead.
            root.setLevel(level)
            return path
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    # apscheduler logs each run of every job: the one-second watch for other processes' writes
    # alone filled the 1 MB log in hours, rotating away what a user would look for.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return path
