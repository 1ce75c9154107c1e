"""`python -m duncall.cli` runs the CLI."""

import sys

from duncall.cli import main

sys.exit(main())
