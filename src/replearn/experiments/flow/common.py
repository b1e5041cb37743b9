"""Shared by the flow experiments: the maximum-likelihood task, model builders, measurements."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from replearn.engine import Task
from replearn.flow import Flow, Glow, IResNet, PlanarFlow, RealNVP
from replearn.flow.iresnet import IResNetBlock

FLOWS = ("planar", "realnvp", "glow", "iresnet")


class FlowNLLTask(Task):
    """Maximum likelihood: the loss is the mean negative log-likelihood -log p(x) (nats).

    ``preprocess`` maps a batch to the flow's input and returns the log-determinant of
    that map too (dequantization + logit for images), so the NLL is that of the data.
    """

    def __init__(
        self, flow: Flow, preprocess: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None
    ) -> None:
        super().__init__()
        self.flow = flow
        self.preprocess = preprocess

    def nll(self, x: Tensor) -> Tensor:
        """Per-example -log p(x) in nats, shape (B,)."""
        if self.preprocess is None:
            return -self.flow.log_prob(x)
        y, log_det = self.preprocess(x)
        return -(self.flow.log_prob(y) + log_det)

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        loss = self.nll(x).mean()
        return loss, {}


def build_flow(
    name: str,
    event_shape: tuple[int, ...],
    *,
    hidden: int,
    depth: int,
    planar_layers: int = 32,
    mixing: str = "conv_lu",
    n_scales: int = 2,
    iresnet_log_det: str = "series",
    iresnet_terms: int = 5,
    iresnet_coeff: float = 0.9,
) -> Flow:
    """One of :data:`FLOWS` at a given size (depth: couplings / Glow steps / i-ResNet blocks)."""
    if name == "planar":
        if len(event_shape) != 1:
            raise ValueError("planar flows take vectors")
        return PlanarFlow(event_shape[0], n_layers=planar_layers)
    if name == "realnvp":
        return RealNVP(event_shape, hidden=hidden, n_couplings=depth, n_scales=n_scales)
    if name == "glow":
        return Glow(event_shape, hidden=hidden, n_steps=depth, n_levels=n_scales, mixing=mixing)  # type: ignore[arg-type]
    if name == "iresnet":
        if len(event_shape) != 1:
            raise ValueError("this i-ResNet takes vectors")
        return IResNet(
            event_shape[0],
            n_blocks=depth,
            hidden=hidden,
            coeff=iresnet_coeff,
            log_det=iresnet_log_det,
            n_terms=iresnet_terms,
        )
    raise ValueError(f"unknown flow {name!r}; known: {', '.join(FLOWS)}")


@contextlib.contextmanager
def exact_log_dets(flow: Flow) -> Iterator[None]:
    """Switch every i-ResNet block to the exact log-determinant inside the block."""
    blocks = [m for m in flow.modules() if isinstance(m, IResNetBlock)]
    modes = [b.log_det_mode for b in blocks]
    for b in blocks:
        b.log_det_mode = "exact"
    try:
        yield
    finally:
        for b, mode in zip(blocks, modes, strict=True):
            b.log_det_mode = mode


@torch.no_grad()
def mean_nll(task: FlowNLLTask, x: Tensor, batch_size: int = 2048) -> float:
    """Mean -log p over ``x`` (eval mode, exact log-determinants)."""
    was = task.training
    task.eval()
    with exact_log_dets(task.flow):
        total = sum(float(task.nll(c).sum()) for c in x.split(batch_size))
    task.train(was)
    return total / len(x)


def auroc(scores_in: Tensor, scores_out: Tensor) -> float:
    """Area under the ROC curve for telling ``out`` (positive) from ``in`` by a higher score.

    The Mann-Whitney statistic: P(score_out > score_in) + P(tie) / 2.
    """
    s_in, s_out = scores_in.double()[:, None], scores_out.double()[None, :]
    return float((s_out > s_in).double().mean() + 0.5 * (s_out == s_in).double().mean())
