"""Record ids: 32 random hex characters.

Random rather than time-ordered so that a short prefix (what `mnemo list` shows and people type)
already tells records apart, the way git's abbreviated hashes do.
"""

import uuid


def new_id() -> str:
    return uuid.uuid4().hex
