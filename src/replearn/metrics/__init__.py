"""replearn.

Generative-model metrics: :func:`fid_from_features` / :func:`frechet_distance` (FID),
:func:`mmd2` / :func:`kid` (kernel MMD² and KID), :func:`inception_score`,
:func:`mode_score`, :func:`precision_recall` (with density and coverage), and the
pluggable feature extractors of :mod:`replearn.metrics.features`. The architecture
profiler lives in :mod:`replearn.metrics.arch`.
"""

from replearn.metrics.features import (
    FeatureClassifier,
    ModuleFeatures,
    extract,
    feature_classifier,
)
from replearn.metrics.fid import fid_from_features, frechet_distance, gaussian_statistics
from replearn.metrics.inception_score import inception_score, mode_score
from replearn.metrics.mmd import kid, mmd2
from replearn.metrics.precision_recall import precision_recall

__all__ = [
    "FeatureClassifier",
    "ModuleFeatures",
    "extract",
    "feature_classifier",
    "fid_from_features",
    "frechet_distance",
    "gaussian_statistics",
    "inception_score",
    "kid",
    "mmd2",
    "mode_score",
    "precision_recall",
]
