"""Optimization experiments: ``optim-compare``, ``optim-adaptive`` and ``optim-variants``."""
