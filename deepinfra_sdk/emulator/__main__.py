"""``python -m deepinfra_sdk.emulator``: serve in the foreground until Ctrl-C."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
