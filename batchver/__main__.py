"""``python -m batchver`` is the ``batchver`` command."""

import sys

from batchver.cli import main

sys.exit(main())
