"""Experiments of the normalization topic: ``norm-compare``."""
