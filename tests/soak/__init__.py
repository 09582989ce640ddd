"""Chaos soak (not part of the default test run): ``python -m tests.soak.soak``."""
