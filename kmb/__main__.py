"""`python -m kmb` does what `kmb` does."""

import sys

from kmb.cli import main

sys.exit(main())
