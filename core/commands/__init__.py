"""The ``netmon`` subcommands, one module each; every module has ``register(sub)``."""
