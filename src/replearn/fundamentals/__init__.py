"""Fundamentals: the McCulloch-Pitts unit, the perceptron, the multilayer perceptron and
backpropagation, the bias-variance decomposition, LeNet-5 and AlexNet, the SVM baseline,
RBMs and deep belief nets, and greedy layer-wise pre-training."""

from replearn.fundamentals.alexnet import AlexNetSmall, local_response_norm
from replearn.fundamentals.backprop import backprop, matmul_flops
from replearn.fundamentals.bias_variance import (
    bias_variance_decomposition,
    draw_training_sets,
    fit_polynomial,
    fixed_design,
    fixed_design_bias_variance,
    polynomial_features,
    polynomial_predictions,
    predict_polynomial,
    resampled_polynomial_predictions,
    sine_target,
    squared_bias,
    variance,
)
from replearn.fundamentals.lenet import LeNet5, scaled_tanh
from replearn.fundamentals.mcculloch_pitts import McCullochPittsUnit, ThresholdNetwork, gate
from replearn.fundamentals.mlp import ACTIVATIONS, MLP, linear_param_count, mlp_param_count
from replearn.fundamentals.perceptron import (
    Perceptron,
    PerceptronResult,
    augment,
    margin,
    novikoff_bound,
    perceptron_predict,
    perceptron_score,
    perceptron_update,
    train_perceptron,
)
from replearn.fundamentals.rbm import RBM, DeepBeliefNet, cd_loss, free_energy
from replearn.fundamentals.stacked_autoencoder import AutoencoderLayer, StackedAutoencoder
from replearn.fundamentals.svm import SVMClassifier

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "RBM",
    "AlexNetSmall",
    "AutoencoderLayer",
    "DeepBeliefNet",
    "LeNet5",
    "McCullochPittsUnit",
    "Perceptron",
    "PerceptronResult",
    "SVMClassifier",
    "StackedAutoencoder",
    "ThresholdNetwork",
    "augment",
    "backprop",
    "bias_variance_decomposition",
    "cd_loss",
    "draw_training_sets",
    "fit_polynomial",
    "fixed_design",
    "fixed_design_bias_variance",
    "free_energy",
    "gate",
    "linear_param_count",
    "local_response_norm",
    "margin",
    "matmul_flops",
    "mlp_param_count",
    "novikoff_bound",
    "perceptron_predict",
    "perceptron_score",
    "perceptron_update",
    "polynomial_features",
    "polynomial_predictions",
    "predict_polynomial",
    "resampled_polynomial_predictions",
    "scaled_tanh",
    "sine_target",
    "squared_bias",
    "train_perceptron",
    "variance",
]
