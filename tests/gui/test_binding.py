"""The Qt binding `make run` installs must survive a day of widget updates.

PySide6 6.12.0 on Python 3.11 drops a reference to None on every call of a method that returns
nothing; after about 4,400 such calls the process dies with `Fatal Python error: none_dealloc`.
pyproject pins a version without the bug; this runs the reproducer in its own process (a crash
would take pytest down with it) so a careless upgrade fails here instead of in users' hands.
"""

import os
import subprocess
import sys

REPRODUCER = """
import sys
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel()
refs = sys.getrefcount(None)
for n in range(20_000):
    label.setText(str(n))
print(sys.getrefcount(None) - refs)
"""


def test_twenty_thousand_void_calls_neither_crash_nor_leak_references_to_none() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", REPRODUCER], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # A healthy binding leaves None's count where it was (give or take a few); the broken one
    # loses 20,000 references — and crashes long before that.
    assert abs(int(done.stdout.strip().splitlines()[-1])) < 100
