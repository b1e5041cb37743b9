"""Experiments of the CNN topic."""
