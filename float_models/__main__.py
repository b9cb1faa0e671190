"""`python -m float_models render|download|convert`: see float_models/cli.py."""

import sys

from .app.cli import main

sys.exit(main())
