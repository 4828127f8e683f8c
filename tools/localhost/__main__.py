"""`python -m tools.localhost` (what `make run` runs)."""

import sys

from tools.localhost.server import main

sys.exit(main())
