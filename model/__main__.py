"""``python -m model`` is the ``povsim`` command."""

import sys

from model.cli import main

sys.exit(main())
