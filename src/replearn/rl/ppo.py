r"""Proximal policy optimization (PPO-clip): minibatch epochs over one on-policy rollout.

Paper: J. Schulman, F. Wolski, P. Dhariwal, A. Radford & O. Klimov, "Proximal policy
optimization algorithms", 2017, arXiv:1707.06347 (Algorithm 1, Eqs. 7 and 9); the
implementation choices of CleanRL's ``ppo.py`` and stable-baselines3 (S. Huang et al.,
"The 37 implementation details of proximal policy optimization", ICLR blog track 2022).

Per update: collect :math:`T` steps in each of :math:`N` environments
(:mod:`replearn.rl.rollout`), compute GAE advantages and :math:`\lambda`-returns
(:func:`~replearn.rl.losses.gae_advantages`), then for ``epochs`` passes over the
:math:`NT` samples in shuffled minibatches minimize

.. math::

    L = -L^{CLIP}(\theta) + c_V\, L^V(\phi) - c_H\, H[\pi_\theta]
        \qquad \text{(Eq. 9, signs for minimization)}

with per-minibatch advantage normalization (``norm_adv``), the optional clipped value
loss, and gradient-norm clipping (done by the engine, ``engine.grad_clip_norm``). With
``clip=None`` the surrogate is the unclipped importance-weighted objective
:math:`\hat{\mathbb E}[\rho_t \hat A_t]` (the ablation of the clipping claims).
``target_kl`` stops the epochs early once the k3 estimate of the KL on a minibatch
exceeds it (CleanRL's option; off by default).

Deviations: none in the algorithm; the learning rate and clip annealing of RL-zoo's
``lin_`` schedules are applied by the caller (a function of the fraction of the budget).

Tests: one update on a fixed rollout equals a hand-written loop over the same
minibatches with the loss functions of :mod:`replearn.rl.losses`; with ``epochs=1`` and
one minibatch the first gradient equals the vanilla policy gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from replearn.registry import register
from replearn.rl.agents import ActorCritic
from replearn.rl.losses import (
    approx_kl,
    entropy_bonus,
    gae_advantages,
    policy_loss,
    value_loss,
)
from replearn.rl.rollout import Rollout

__all__ = ["PPOHyperparameters", "ppo_update", "rollout_batch"]


@dataclass(frozen=True)
class PPOHyperparameters:
    """Settings of one PPO update.

    Attributes:
        gamma: discount.
        gae_lambda: GAE's :math:`\\lambda`.
        epochs: passes over the rollout.
        minibatch_size: samples per gradient step (must divide N*T).
        clip: :math:`\\epsilon` of the surrogate (None: unclipped surrogate).
        clip_value: clip the value loss with this :math:`\\epsilon_V` (None: plain MSE).
        vf_coef: :math:`c_V`.
        ent_coef: :math:`c_H`.
        norm_adv: normalize advantages per minibatch.
        target_kl: stop the epochs when a minibatch's KL estimate exceeds this (None: off).
    """

    gamma: float = 0.99
    gae_lambda: float = 0.95
    epochs: int = 10
    minibatch_size: int = 64
    clip: float | None = 0.2
    clip_value: float | None = None
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    norm_adv: bool = True
    target_kl: float | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.minibatch_size < 1:
            raise ValueError("epochs and minibatch_size must be >= 1")
        if self.clip is not None and self.clip <= 0:
            raise ValueError(f"clip must be > 0 or None, got {self.clip}")
        if not (0 <= self.gamma <= 1 and 0 <= self.gae_lambda <= 1):
            raise ValueError("gamma and gae_lambda must be in [0, 1]")


def rollout_batch(rollout: Rollout, gamma: float, gae_lambda: float) -> dict[str, Tensor]:
    """Flatten a rollout into samples with GAE advantages and :math:`\\lambda`-returns.

    Shape:
        output: every entry (N*T, ...) .
    """
    adv = gae_advantages(
        rollout.rewards, rollout.values, rollout.dones, rollout.last_value, gamma, gae_lambda
    )  # (T, N)
    returns = adv + rollout.values
    D = rollout.obs.shape[-1]
    return {
        "obs": rollout.obs.reshape(-1, D),
        "actions": rollout.actions.reshape(-1),
        "logp": rollout.logp.reshape(-1),
        "values": rollout.values.reshape(-1),
        "advantages": adv.reshape(-1),
        "returns": returns.reshape(-1),
    }


def _normalize(adv: Tensor) -> Tensor:
    return (adv - adv.mean()) / (adv.std() + 1e-8)


@register(
    "rl.ppo",
    paper="Schulman, Wolski, Dhariwal, Radford & Klimov 2017, arXiv:1707.06347",
    reference="a hand-written minibatch loop over the pure losses; the vanilla policy "
    "gradient at ratio 1",
)
def ppo_update(
    agent: ActorCritic,
    batch: dict[str, Tensor],
    hp: PPOHyperparameters,
    optimize: Callable[[Tensor], None],
    *,
    clip: float | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """``hp.epochs`` passes of minibatch steps on ``batch`` (from :func:`rollout_batch`).

    Args:
        agent: the actor-critic being trained.
        batch: flat samples with ``obs, actions, logp, values, advantages, returns``.
        hp: the update's settings.
        optimize: takes the minibatch loss and does one optimizer step (the engine's
            ``loop.optimize``: zero_grad, backward, clipping, step).
        clip: overrides ``hp.clip`` (an annealed value); None keeps ``hp.clip``.
        generator: shuffles the minibatches (None: the global torch RNG).

    Returns:
        Means over the minibatch steps of ``policy_loss``, ``value_loss``, ``entropy``,
        ``approx_kl`` (k3, per minibatch before its step, as CleanRL) and ``clip_fraction``;
        ``kl_after`` (k3 over the whole batch after the update: the policy change of the
        update), ``max_ratio_dev`` (largest :math:`|\\rho - 1|` on the batch after it) and
        ``outside_after`` (fraction of the batch with :math:`|\\rho - 1| > \\epsilon` after it;
        0.2 stands in for :math:`\\epsilon` when unclipped).
    """
    eps = hp.clip if clip is None else clip
    n = batch["actions"].shape[0]
    if n % hp.minibatch_size:
        raise ValueError(f"minibatch_size {hp.minibatch_size} must divide the batch of {n}")
    sums: Tensor | None = None
    steps = 0
    stop = False
    for _ in range(hp.epochs):
        perm = torch.randperm(n, generator=generator).to(batch["actions"].device)
        for start in range(0, n, hp.minibatch_size):
            idx = perm[start : start + hp.minibatch_size]
            logp, logits, v = agent.evaluate_actions(batch["obs"][idx], batch["actions"][idx])
            logp_old = batch["logp"][idx]
            adv = batch["advantages"][idx]
            if hp.norm_adv and len(idx) > 1:
                adv = _normalize(adv)
            pg = policy_loss(logp, logp_old, adv, eps)
            vl = value_loss(
                v, batch["returns"][idx], old_values=batch["values"][idx], clip=hp.clip_value
            )
            loss = pg + hp.vf_coef * vl
            if hp.ent_coef:
                ent = entropy_bonus(logits)
                loss = loss - hp.ent_coef * ent
            else:  # the statistic only: keep it out of the backward pass
                with torch.no_grad():
                    ent = entropy_bonus(logits)
            with torch.no_grad():  # Eq. (8) k3 and the clip fraction from one log-ratio
                log_ratio = logp - logp_old
                kl = (torch.expm1(log_ratio) - log_ratio).mean()
                frac = ((log_ratio.exp() - 1).abs() > (eps if eps else 0.2)).float().mean()
            stats = torch.stack([pg.detach(), vl.detach(), ent.detach(), kl, frac])
            sums = stats if sums is None else sums + stats
            steps += 1
            if hp.target_kl is not None and float(kl) > hp.target_kl:
                stop = True
                break
            optimize(loss)
        if stop:
            break
    names = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
    assert sums is not None
    out = dict(zip(names, (sums / steps).tolist(), strict=True))
    with torch.no_grad():
        logp_new, _, _ = agent.evaluate_actions(batch["obs"], batch["actions"])
        out["kl_after"] = float(approx_kl(logp_new, batch["logp"]))
        dev = (torch.exp(logp_new - batch["logp"]) - 1).abs()
        out["max_ratio_dev"] = float(dev.max())
        out["outside_after"] = float((dev > (eps if eps else 0.2)).float().mean())
    return out
