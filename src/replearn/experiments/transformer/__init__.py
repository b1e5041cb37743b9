"""Experiments of the transformers topic."""
