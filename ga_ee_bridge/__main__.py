"""``python -m ga_ee_bridge``: the same as the ``ga-ee-bridge`` command."""

import sys

from ga_ee_bridge.cli import main

sys.exit(main())
