"""Experiment ``pg-variance``: the variance of policy-gradient estimators, measured.

    replearn run pg-variance

For a fixed policy on CartPole-v1 (a freshly initialized actor per seed), ``n_batches``
independent rollouts are drawn, and on each the gradient of the policy objective with
respect to the actor's parameters is estimated three ways from the *same samples*
(:mod:`replearn.rl.pg`):

1. REINFORCE with reward-to-go, :math:`\\Psi_t = G_t`;
2. REINFORCE with a learned state-value baseline, :math:`\\Psi_t = G_t - V(s_t)`;
3. actor-critic (one-step TD advantage), :math:`\\Psi_t = r_t + \\gamma V(s_{t+1}) - V(s_t)`.

All three average over the steps of episodes that end inside the rollout (REINFORCE
needs the whole return). The critic :math:`V` is fitted beforehand by the engine
(``RegressionTask``, squared error) on Monte Carlo returns of separate rollouts of the
same policy. The variance of an estimator is the total variance of its gradient vector
across the batches, :math:`\\sum_j \\mathrm{Var}[\\hat g_j]`. Each claim is judged over the
``n_seeds`` seeds (each a fresh random policy and critic) with
:func:`replearn.experiments.stats.compare_seeds` on the log total variance, paired by seed:
the one-sided 95% Student-t lower bound of the mean log reduction must be above zero. Writes
``pg_variance.png`` (total variance per estimator and seed, log scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch.utils.data import TensorDataset

from replearn.engine import EngineConfig, RegressionTask, RunContext, fit
from replearn.engine.context import single_thread
from replearn.experiments.base import Claim, Result, experiment
from replearn.experiments.common import engine_config
from replearn.experiments.stats import MIN_SEEDS, compare_seeds, too_few_seeds
from replearn.report.plots import DPI, save_figure
from replearn.rl.agents import ActorCritic
from replearn.rl.envs import VectorEnv
from replearn.rl.losses import discounted_returns
from replearn.rl.pg import complete_episode_mask, pg_surrogate
from replearn.rl.rollout import collect_rollout

ESTIMATORS = ("reinforce", "baseline", "actor_critic")


_engine = partial(engine_config, 400, 256, log_every=50, progress=False)


@dataclass(frozen=True)
class Config:
    """Settings of the variance measurement.

    Attributes:
        env_id: gymnasium environment.
        n_seeds: seeds (a different random policy and critic each).
        n_envs: parallel environments of a rollout.
        n_steps: steps per environment in one batch.
        n_batches: independent batches whose gradients are compared.
        critic_rollouts: rollouts (of n_envs x n_steps) for fitting the critic.
        gamma: discount.
        critic_lr: Adam learning rate of the critic fit.
        engine: settings of the critic fit (``max_steps`` gradient steps).
    """

    env_id: str = "CartPole-v1"
    n_seeds: int = 3
    n_envs: int = 8
    n_steps: int = 64
    n_batches: int = 40
    critic_rollouts: int = 16
    gamma: float = 0.99
    critic_lr: float = 1e-3
    engine: EngineConfig = field(default_factory=_engine)


def tiny() -> Config:
    """Seconds: three seeds (the verdict's minimum), few small batches, a short critic fit."""
    return Config(n_seeds=3, n_envs=2, n_steps=32, n_batches=3, critic_rollouts=1,
                  engine=EngineConfig(max_steps=5, batch_size=32, checkpoint_every=0,
                                      progress=False))  # fmt: skip


def quick() -> Config:
    """Seconds: the default with 8 batches and 8 critic rollouts (a smoke check)."""
    return Config(n_batches=8, critic_rollouts=8)


def _returns_and_mask(ro: Any, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    g = discounted_returns(ro.rewards, ro.dones, gamma, torch.zeros_like(ro.rewards[0]))
    return g, complete_episode_mask(ro.dones)


def fit_critic(agent: ActorCritic, envs: VectorEnv, cfg: Config, ctx: RunContext) -> None:
    """Regress ``agent.critic`` on Monte Carlo returns of the current policy (engine fit)."""
    xs, ys = [], []
    for _ in range(cfg.critic_rollouts):
        ro = collect_rollout(agent, envs, cfg.n_steps, cfg.gamma)
        g, mask = _returns_and_mask(ro, cfg.gamma)
        keep = mask.reshape(-1) > 0
        xs.append(ro.obs.reshape(-1, ro.obs.shape[-1])[keep])
        ys.append(g.reshape(-1, 1)[keep])
    data = TensorDataset(torch.cat(xs).cpu(), torch.cat(ys).cpu())  # a data set: on the CPU
    opt = torch.optim.Adam(agent.critic.parameters(), lr=cfg.critic_lr)
    fit(RegressionTask(agent.critic), opt, data, cfg=cfg.engine, ctx=ctx)


def batch_gradients(agent: ActorCritic, ro: Any, gamma: float) -> dict[str, torch.Tensor]:
    """The three estimators' actor gradients (flattened) on one rollout."""
    g, mask = _returns_and_mask(ro, gamma)
    with torch.no_grad():
        v = agent.value(ro.obs.reshape(-1, ro.obs.shape[-1])).reshape(ro.rewards.shape)
        v_next = torch.cat([v[1:], ro.last_value[None]], 0)
        td = ro.rewards + gamma * (1 - ro.dones) * v_next - v
    psis = {"reinforce": g, "baseline": g - v, "actor_critic": td}
    logp, _, _ = agent.evaluate_actions(
        ro.obs.reshape(-1, ro.obs.shape[-1]), ro.actions.reshape(-1)
    )
    params = list(agent.actor.parameters())
    out = {}
    for name, psi in psis.items():
        loss = pg_surrogate(logp, psi.reshape(-1), mask=mask.reshape(-1))
        grads = torch.autograd.grad(loss, params, retain_graph=True)
        out[name] = -torch.cat([gr.reshape(-1) for gr in grads])  # the gradient estimate
    return out


def _comparison(m: dict[str, Any], name: str) -> Any:
    """compare_seeds of the log total variances, paired by seed: REINFORCE's minus ``name``'s
    (positive: ``name`` has the lower variance)."""
    n = m["n_seeds"]
    return compare_seeds(
        [math.log(m[f"var_reinforce_seed{i}"]) for i in range(n)],
        [math.log(m[f"var_{name}_seed{i}"]) for i in range(n)],
        label_x="log var REINFORCE",
        label_y=f"log var {name}",
    )


def _claim(name: str) -> Any:
    def verdict(m: dict[str, Any]) -> tuple[bool, str]:
        n = m["n_seeds"]
        if (why := too_few_seeds(n)) is not None:
            return False, why
        c = _comparison(m, name)
        per = ", ".join(f"{m[f'var_ratio_{name}_seed{i}']:.3f}" for i in range(n))
        return c.holds, (
            f"variance ratio {name} / REINFORCE per seed: {per}; {c.evidence()} "
            f"({m['n_batches']} batches of {m['batch_steps']} steps each)"
        )

    return verdict


CLAIMS = (
    Claim(
        "baseline-reduces-pg-variance",
        "Subtracting a state-value baseline from the reward-to-go reduces the variance of the "
        "REINFORCE gradient estimate (same samples; log variance paired over >= 3 seeds, "
        "95% lower bound of the reduction above 0).",
        _claim("baseline"),
        "pg_variance.png",
    ),
    Claim(
        "actor-critic-lower-variance",
        "The actor-critic gradient (one-step TD advantage from a critic) has lower variance "
        "than REINFORCE's on the same samples (log variance paired over >= 3 seeds, 95% lower "
        "bound of the reduction above 0).",
        _claim("actor_critic"),
        "pg_variance.png",
    ),
)


def _plot(path: Any, variances: dict[str, list[float]]) -> Any:
    fig, ax = plt.subplots(figsize=(6.0, 3.8), dpi=DPI)
    for i, name in enumerate(ESTIMATORS):
        ys = variances[name]
        ax.scatter([i] * len(ys), ys, label=name, s=30)
    ax.set_xticks(range(len(ESTIMATORS)), ["REINFORCE", "+ baseline", "actor-critic"])
    ax.set_yscale("log")
    ax.set_ylabel("total variance of the gradient estimate")
    ax.set_title("Policy-gradient estimators on the same samples (one dot per seed)",
                 fontsize="medium")  # fmt: skip
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


@experiment(
    "pg-variance",
    topic="rl",
    config=Config,
    presets={"tiny": tiny, "quick": quick},
    claims=CLAIMS,
    paper="Williams 1992; Sutton et al. 1999; Greensmith, Bartlett & Baxter 2004, JMLR 5",
)
def run(cfg: Config, ctx: RunContext) -> Result:
    """Variance of REINFORCE, REINFORCE with a baseline and actor-critic gradients."""
    metrics: dict[str, Any] = {"n_seeds": cfg.n_seeds, "n_batches": cfg.n_batches,
                               "batch_steps": cfg.n_envs * cfg.n_steps}  # fmt: skip
    variances: dict[str, list[float]] = {n: [] for n in ESTIMATORS}
    for i in range(cfg.n_seeds):
        seed = ctx.seed + i
        with ctx.child(f"critic_seed{i}", seed=seed) as sub, single_thread():
            torch.manual_seed(seed)
            envs = VectorEnv(cfg.env_id, cfg.n_envs, seed=1000 * seed)
            agent = ActorCritic(envs.obs_dim, envs.n_actions).to(sub.device)
            fit_critic(agent, envs, cfg, sub)
            grads: dict[str, list[torch.Tensor]] = {n: [] for n in ESTIMATORS}
            for _ in range(cfg.n_batches):
                ro = collect_rollout(agent, envs, cfg.n_steps, cfg.gamma)
                for name, gr in batch_gradients(agent, ro, cfg.gamma).items():
                    grads[name].append(gr)
        for name in ESTIMATORS:
            G = torch.stack(grads[name])  # (n_batches, n_params)
            var = float(G.var(0).sum())
            variances[name].append(var)
            metrics[f"var_{name}_seed{i}"] = var
        for name in ESTIMATORS[1:]:
            r = metrics[f"var_{name}_seed{i}"] / metrics[f"var_reinforce_seed{i}"]
            metrics[f"var_ratio_{name}_seed{i}"] = r
    if cfg.n_seeds >= MIN_SEEDS:
        for name in ESTIMATORS[1:]:
            metrics[f"variance_comparison_{name}"] = _comparison(metrics, name).as_dict()
    plot = _plot(ctx.path("pg_variance.png"), variances)
    return Result(metrics=metrics, plots=[plot])
