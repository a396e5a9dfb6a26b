"""Mnemo's engine: storage, search, models, capture, vault. Never imports Qt or `agents`."""
