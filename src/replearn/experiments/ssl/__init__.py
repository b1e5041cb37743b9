"""Experiments of the self-supervised learning topic (course chapter 12)."""
