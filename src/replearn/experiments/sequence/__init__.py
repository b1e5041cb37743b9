"""Experiments of the sequence-models topic."""
