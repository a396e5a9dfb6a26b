"""Local models on llama.cpp. No Qt, no agents.

llama.cpp is built with OpenMP, whose default busy-wait made two threads on a busy two-core
machine collapse to ~1 token/s (measured); a passive wait keeps it fast while capture, OCR and
the UI share the CPU. OpenMP reads this once, when llama.cpp's library loads, so it is set here,
before anything imports llama_cpp.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
