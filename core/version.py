"""netmon's version: the one place it is written (pyproject reads it from here).

A constant, not a package-metadata lookup: ``importlib.metadata`` costs about 25 ms of
imports (email, zipfile, csv) on every ``netmon --version``, and a frozen build or an
uninstalled source tree answers the same.
"""

__version__ = "0.1.0"
