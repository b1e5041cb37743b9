"""Convolutional networks: arithmetic, layers from scratch and architectures (course chapter 5).

The main classes are exported here (the layers from scratch live in :mod:`replearn.cnn.layers`,
the output-size and receptive-field arithmetic in :mod:`replearn.cnn.arithmetic`)::

    from replearn.cnn import ResNet
    model = resnet18(num_classes=10)
"""

from replearn.cnn.bytenet import ByteNet
from replearn.cnn.convnext import ConvNeXt, ConvNeXtBlock
from replearn.cnn.convnext_ablation import AblatedConvNeXtBlock
from replearn.cnn.efficientnet import EfficientNet, MBConv
from replearn.cnn.layers import (
    CausalConv1d,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    DepthwiseSeparableConv2d,
)
from replearn.cnn.locally_connected import LocallyConnected2d
from replearn.cnn.pooling import AvgPool2d, MaxPool2d
from replearn.cnn.resnet import BasicBlock, Bottleneck, PlainNet, ResNet, resnet18
from replearn.cnn.senet import SEResNet, SqueezeExcite
from replearn.cnn.wavenet import WaveNet

__all__ = [
    "AblatedConvNeXtBlock",
    "AvgPool2d",
    "BasicBlock",
    "Bottleneck",
    "ByteNet",
    "CausalConv1d",
    "Conv1d",
    "Conv2d",
    "ConvNeXt",
    "ConvNeXtBlock",
    "ConvTranspose2d",
    "DepthwiseSeparableConv2d",
    "EfficientNet",
    "LocallyConnected2d",
    "MBConv",
    "MaxPool2d",
    "PlainNet",
    "ResNet",
    "SEResNet",
    "SqueezeExcite",
    "WaveNet",
    "resnet18",
]
