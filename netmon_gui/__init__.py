"""netmon console: a PySide6 window over the core, run on one qasync loop."""
