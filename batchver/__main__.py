"""``python -m batchver`` is the ``batchver`` command."""

import sys

from .cli import main

sys.exit(main())
