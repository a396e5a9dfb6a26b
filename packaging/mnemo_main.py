"""The frozen app's entry point (PyInstaller runs this file): `mnemo` as the checkout has it."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
