"""Screen capture: frames, change detection, exclusions, OCR, redaction, storage (issue 5)."""
