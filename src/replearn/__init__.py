"""replearn: the representation-learning curriculum as verified, runnable PyTorch."""

__version__ = "0.1.0"
