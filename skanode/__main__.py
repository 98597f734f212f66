"""``python -m skanode``: the same as the ``skanode`` command."""

import sys

from .cli import main

sys.exit(main())
