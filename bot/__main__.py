"""`python -m bot` does what `kmb` does."""

import sys

from bot.cli import main

sys.exit(main())
