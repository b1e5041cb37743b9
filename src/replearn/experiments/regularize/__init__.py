"""Regularization experiments: penalties, dropout, early stopping, label smoothing, augmentation,
stochastic depth, transfer and multi-task learning."""
