"""``python -m aiostscreds``: the ``aiostscreds`` command (see :mod:`aiostscreds.cli`)."""

import sys

from .cli import main

sys.exit(main())
