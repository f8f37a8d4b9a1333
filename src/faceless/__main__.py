"""`python -m faceless` runs the command line."""

import sys

from faceless.cli.main import main

sys.exit(main())
