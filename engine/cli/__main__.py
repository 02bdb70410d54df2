"""``python -m engine.cli``: the ``logloom`` command."""

import sys

from . import main

sys.exit(main())
