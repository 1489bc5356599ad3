"""``python -m aiostscreds demo``: see :mod:`aiostscreds._demo`."""

import sys

from ._demo import main

sys.exit(main())
