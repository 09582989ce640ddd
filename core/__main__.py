"""``python -m core`` runs the ``netmon`` command."""

import sys

from .cli import main

sys.exit(main())
