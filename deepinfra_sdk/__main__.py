"""``python -m deepinfra_sdk``: the ``deepinfra`` command line."""

from deepinfra_sdk.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
