"""``single_thread`` (:mod:`replearn.engine.context`): one intra-op thread inside, then restored."""

from __future__ import annotations

import pytest
import torch

from replearn.engine.context import single_thread


@pytest.fixture
def two_threads():
    """Start from 2 threads (so that 1 inside is a change) and restore the test's own count."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_sets_one_thread_and_restores(two_threads) -> None:
    with single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_restores_after_an_exception(two_threads) -> None:
    with pytest.raises(RuntimeError, match="boom"), single_thread():
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2


def test_nested_blocks_restore_the_outer_count(two_threads) -> None:
    with single_thread():
        with single_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_the_experiments_use_the_engine_helper() -> None:
    """WaveNet and Mamba experiments import the one engine helper (no private copies)."""
    from replearn.experiments.cnn import wavenet_demo as wavenet
    from replearn.experiments.sequence import mamba_tasks

    assert wavenet.single_thread is single_thread
    assert mamba_tasks.single_thread is single_thread
