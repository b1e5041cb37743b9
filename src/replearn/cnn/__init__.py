"""Convolutional networks: arithmetic, layers from scratch and architectures (course chapter 5).

Import from the submodules, e.g. ``from replearn.cnn.resnet import ResNet``.
"""
