"""``python -m netmon_gui``: the same as the ``netmon-gui`` command."""

import sys

from .app import main

sys.exit(main())
