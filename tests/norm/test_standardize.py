"""Input standardization against scikit-learn's StandardScaler."""

from __future__ import annotations

import pytest
import torch
from sklearn.preprocessing import StandardScaler

from replearn.norm.standardize import Standardize, fit_moments, standardize, unstandardize

F64 = torch.float64


def _data():
    gen = torch.Generator().manual_seed(0)
    train = torch.randn(40, 5, generator=gen, dtype=F64) * torch.tensor(
        [1e-2, 1.0, 30.0, 1e3, 1.0], dtype=F64
    ) + torch.tensor([5.0, -2.0, 100.0, 0.0, 0.0], dtype=F64)
    train[:, 4] = 7.0  # a constant feature: scale 1, as in sklearn
    test = torch.randn(9, 5, generator=gen, dtype=F64) * 10
    return train, test


def test_matches_standard_scaler_on_train_and_unseen_data():
    train, test = _data()
    ref = StandardScaler().fit(train.numpy())
    mod = Standardize().fit(train)
    torch.testing.assert_close(mod.mean.squeeze(0), torch.from_numpy(ref.mean_))
    torch.testing.assert_close(mod.scale.squeeze(0), torch.from_numpy(ref.scale_))
    for x in (train, test):
        torch.testing.assert_close(mod(x), torch.from_numpy(ref.transform(x.numpy())))
    z = mod(train)
    torch.testing.assert_close(z[:, :4].mean(0), torch.zeros(4, dtype=F64), atol=1e-12, rtol=0)
    torch.testing.assert_close(z[:, :4].std(0, unbiased=False), torch.ones(4, dtype=F64))


def test_inverse_and_pure_functions():
    train, test = _data()
    mean, scale = fit_moments(train)
    torch.testing.assert_close(unstandardize(standardize(test, mean, scale), mean, scale), test)
    mod = Standardize().fit(train)
    torch.testing.assert_close(mod.inverse(mod(test)), test)


def test_statistics_are_frozen_after_fit():
    train, test = _data()
    mod = Standardize().fit(train)
    before = mod.mean.clone()
    mod.train()
    mod(test)
    torch.testing.assert_close(mod.mean, before)  # nothing learned from test inputs


def test_per_channel_image_statistics():
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(6, 3, 4, 4, generator=gen, dtype=F64) * torch.tensor(
        [1.0, 5.0, 0.1], dtype=F64
    ).view(1, 3, 1, 1)
    mod = Standardize(dims=(0, 2, 3)).fit(images)
    assert mod.mean.shape == (1, 3, 1, 1)
    flat = images.transpose(0, 1).reshape(3, -1).T  # (N*H*W, C)
    ref = StandardScaler().fit(flat.numpy())
    torch.testing.assert_close(mod.scale.view(3), torch.from_numpy(ref.scale_))


def test_state_dict_round_trip():
    train, test = _data()
    mod = Standardize().fit(train)
    fresh = Standardize()
    fresh.load_state_dict(mod.state_dict())
    assert fresh.fitted
    torch.testing.assert_close(fresh(test), mod(test))


def test_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardize()(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="batch axis"):
        Standardize(dims=(1,))
    with pytest.raises(ValueError, match="eps"):
        Standardize(eps=-1.0)
    with pytest.raises(ValueError, match="axes"):
        Standardize(dims=(0, 2)).fit(torch.zeros(3, 2))
