"""Engine tasks of the RL experiments: PPO, A2C, REINFORCE and DQN agents trained by ``fit``.

Every task draws its own data (``fit(task, opt, None, ...)``): one call of ``update`` is
one rollout and its gradient steps (PPO, A2C, REINFORCE) or ``train_freq`` environment
steps and ``gradient_steps`` updates (DQN). The environments, their random generators,
the episode statistics and the replay buffer are declared state (``get_extra_state`` and
buffers), so a checkpoint taken at an update boundary resumes exactly. ``validate``
evaluates the greedy policy on fresh environments seeded from the step (no state), over
``final_eval_episodes`` episodes after the last update and ``eval_episodes`` before.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from replearn.engine import Loop, RunContext, Task
from replearn.engine.context import single_thread
from replearn.experiments.base import Result
from replearn.report.plots import DPI, save_figure
from replearn.rl.agents import ActorCritic, QNetwork, mlp_forward
from replearn.rl.dqn import ReplayBuffer, dqn_loss, dqn_targets, linear_epsilon
from replearn.rl.envs import VectorEnv
from replearn.rl.hacking import ProxyBonusGrid
from replearn.rl.losses import discounted_returns, gae_advantages
from replearn.rl.pg import a2c_loss, complete_episode_mask, reinforce_loss
from replearn.rl.ppo import PPOHyperparameters, ppo_update, rollout_batch
from replearn.rl.rollout import Rollout, collect_rollout, evaluate_policy

RECENT = 20  # episodes in the running "episode_return" (SB3's ep_rew_mean uses 100)


def env_factory(env_id: str, num_envs: int, **kw: Any) -> Callable[[int], VectorEnv]:
    """``seed -> VectorEnv(env_id, num_envs, seed=seed)``; ``env_id`` ``"ProxyBonusGrid"``
    builds :class:`~replearn.rl.hacking.ProxyBonusGrid` (keyword arguments ``grid_*``)."""
    if env_id == "ProxyBonusGrid":
        grid_kw = {k[5:]: v for k, v in kw.items() if k.startswith("grid_")}
        rest = {k: v for k, v in kw.items() if not k.startswith("grid_")}
        limit = grid_kw.get("max_steps", 40)
        return lambda seed: VectorEnv(
            lambda: ProxyBonusGrid(**grid_kw), num_envs, seed=seed, max_episode_steps=limit,
            info_keys=("true_reward", "bonus"), **rest,
        )  # fmt: skip
    return lambda seed: VectorEnv(env_id, num_envs, seed=seed, **kw)


def seeded_envs(
    cfg: Any, ctx: RunContext, seed: int
) -> tuple[VectorEnv, Callable[[int], VectorEnv]]:
    """Seed torch with ``seed``; the training environments and the evaluation factory of ``cfg``.

    ``cfg.n_envs`` training environments of ``cfg.env_id`` seeded ``1000 * seed + 100 * rank``
    (a different stream per process under DDP), and ``seed -> VectorEnv`` with up to 10
    parallel environments for ``cfg.eval_episodes`` evaluation episodes.
    """
    torch.manual_seed(seed)
    envs = env_factory(cfg.env_id, cfg.n_envs)(1000 * seed + 100 * ctx.dist.rank)
    return envs, env_factory(cfg.env_id, max(1, min(10, cfg.eval_episodes)))


def smooth(ys: list[float], window: int) -> list[float]:
    """Trailing moving average over up to ``window`` points."""
    out, acc = [], 0.0
    for i, y in enumerate(ys):
        acc += y
        if i >= window:
            acc -= ys[i - window]
        out.append(acc / min(i + 1, window))
    return out


def plot_xy(
    path: Path, curves: dict[str, tuple[list[float], list[float]]], *, xlabel: str,
    ylabel: str, title: str, hline: float | None = None,
) -> Path:  # fmt: skip
    """Curves with their own x values (episodes end at different environment steps)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=DPI)
    for label, (xs, ys) in curves.items():
        ax.plot(xs, ys, label=label, linewidth=1.2)
    if hline is not None:
        ax.axhline(hline, color="k", linestyle=":", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def episode_curve(episodes: list[dict[str, float]], key: str = "return", window: int = 20):
    """(environment steps, smoothed per-episode ``key``) of a task's finished episodes."""
    xs = [e["env_step"] for e in episodes]
    return xs, smooth([e[key] for e in episodes], window)


def last_eval(history: list[dict[str, Any]]) -> dict[str, float]:
    """The last evaluation row of a loop's history (``eval_return``, ``eval_return_std``)."""
    rows = [r for r in history if "eval_return" in r]
    return rows[-1] if rows else {}


def summarize(name: str, tasks: list[Any], evals: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics over seeds: mean/min evaluation return, steps and training time."""
    rets = [float(e.get("eval_return", float("nan"))) for e in evals]
    metrics: dict[str, Any] = {
        "eval_mean_return": statistics.fmean(rets),
        "eval_min_seed_return": min(rets),
        "eval_seed_std": statistics.stdev(rets) if len(rets) > 1 else 0.0,
        "env_steps": tasks[0].env_steps,
        "train_time_s": statistics.fmean(t.train_time_s for t in tasks),
        "n_seeds": len(tasks),
        "algorithm": name,
    }
    for i, (r, e) in enumerate(zip(rets, evals, strict=True)):
        metrics[f"eval_return_seed{i}"] = r
        metrics[f"eval_return_std_seed{i}"] = float(e.get("eval_return_std", float("nan")))
    return metrics


SOLVED_RETURN = 475.0
"""CartPole-v1's reward threshold (gymnasium's ``spec.reward_threshold``)."""


def solves_verdict(m: dict[str, Any]) -> tuple[bool, str]:
    """Verdict "solves CartPole": every seed's greedy evaluation return (the metrics of
    :func:`summarize`) reaches :data:`SOLVED_RETURN`."""
    holds = m["eval_min_seed_return"] >= SOLVED_RETURN
    per = ", ".join(f"{m[f'eval_return_seed{i}']:.1f}" for i in range(m["n_seeds"]))
    return holds, (
        f"greedy evaluation return per seed: {per} (mean {m['eval_mean_return']:.1f}, "
        f"worst seed {m['eval_min_seed_return']:.1f}; threshold {SOLVED_RETURN:g}) after "
        f"{m['env_steps']} environment steps"
    )


def run_seeds(
    name: str,
    train: Callable[[Any, RunContext, int], tuple[Any, ...]],
    cfg: Any,
    ctx: RunContext,
    network: Callable[[Any], torch.nn.Module],
) -> Result:
    """Train ``cfg.n_seeds`` agents (``train(cfg, sub_ctx, seed) -> (task, eval row, ...)``),
    each in child run ``seed<i>``; plot their training returns (``<name>_returns.png``, titled
    with the upper-cased ``name`` and ``cfg.env_id``); summarize over seeds.

    The result's model is ``network(task)`` of the first seed.
    """
    tasks, evals = [], []
    for i in range(cfg.n_seeds):
        with ctx.child(f"seed{i}", seed=ctx.seed + i) as sub, single_thread():
            task, ev, *_ = train(cfg, sub, ctx.seed + i)
        tasks.append(task)
        evals.append(ev)
    curves = {f"seed {i}": episode_curve(t.episodes) for i, t in enumerate(tasks)}
    plot = plot_xy(
        ctx.path(f"{name}_returns.png"), curves, xlabel="environment steps",
        ylabel="episode return (20-episode mean)",
        title=f"{name.upper()} on {cfg.env_id}: training episode returns",
    )  # fmt: skip
    return Result(metrics=summarize(name, tasks, evals), model=network(tasks[0]), plots=[plot])


class RLTask(Task):
    """What the RL tasks share: training environments, episode bookkeeping, evaluation.

    Args:
        envs: the training environments.
        make_eval_envs: ``seed -> VectorEnv`` for evaluation.
        eval_episodes: episodes per evaluation during training.
        final_eval_episodes: episodes of the evaluation after the last update.
    """

    def __init__(
        self,
        envs: VectorEnv,
        make_eval_envs: Callable[[int], VectorEnv],
        *,
        eval_episodes: int = 10,
        final_eval_episodes: int = 100,
    ) -> None:
        super().__init__()
        self.envs, self.make_eval_envs = envs, make_eval_envs
        self.eval_episodes, self.final_eval_episodes = eval_episodes, final_eval_episodes
        self.env_steps = 0
        self.episodes: list[dict[str, float]] = []  # every finished training episode
        self.train_time_s = 0.0  # wall time inside update (not checkpointed: not exact)
        self.last_eval: list[float] = []

    def greedy_action(self, obs: Tensor) -> Tensor:
        """The evaluated (deterministic) policy."""
        raise NotImplementedError(f"{type(self).__name__} must define greedy_action")

    def _note_episodes(self) -> dict[str, Tensor]:
        for ep in self.envs.drain_episodes():
            self.episodes.append({**ep, "env_step": float(self.env_steps)})
        recent = [e["return"] for e in self.episodes[-RECENT:]]
        mean = sum(recent) / len(recent) if recent else 0.0
        return {"episode_return": torch.tensor(mean)}

    def validate(self, loop: Loop) -> dict[str, float]:
        final = loop.step >= loop.cfg.max_steps
        n = self.final_eval_episodes if final else self.eval_episodes
        if n <= 0:
            return {}
        self.eval()
        with torch.no_grad():
            returns = evaluate_policy(
                lambda obs: self.greedy_action(obs.to(loop.device)),
                lambda: self.make_eval_envs(10_000 + loop.step),
                n,
            )
        self.train()
        self.last_eval = returns
        return {
            "eval_return": sum(returns) / len(returns),
            "eval_return_std": statistics.pstdev(returns),
            "eval_env_steps": float(self.env_steps),
        }

    def get_extra_state(self) -> dict[str, Any]:
        return {"envs": self.envs.get_state(), "env_steps": self.env_steps,
                "episodes": [dict(e) for e in self.episodes]}  # fmt: skip

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.envs.set_state(state["envs"])
        self.env_steps = int(state["env_steps"])
        self.episodes = [dict(e) for e in state["episodes"]]


class ActorCriticTask(RLTask):
    """An :class:`RLTask` whose policy is an :class:`~replearn.rl.agents.ActorCritic` trained on
    rollouts of ``n_steps`` steps per environment (PPO, A2C, REINFORCE).

    Args:
        agent: the actor-critic; its greedy action is the actor's most likely one.
        envs, make_eval_envs, **kw: as :class:`RLTask`.
        n_steps: rollout length per environment per update.
    """

    def __init__(
        self, agent: ActorCritic, envs: VectorEnv, make_eval_envs: Callable[[int], VectorEnv],
        *, n_steps: int, **kw: Any,
    ) -> None:  # fmt: skip
        super().__init__(envs, make_eval_envs, **kw)
        self.agent, self.n_steps = agent, n_steps

    def greedy_action(self, obs: Tensor) -> Tensor:
        return mlp_forward(self.agent.actor, obs).argmax(-1)

    def rollout(self, gamma: float) -> Rollout:
        """Collect one rollout of ``n_steps`` per environment and count its environment steps."""
        ro = collect_rollout(self.agent, self.envs, self.n_steps, gamma)
        self.env_steps += ro.env_steps
        return ro


class PPOTask(ActorCriticTask):
    """PPO (:func:`replearn.rl.ppo.ppo_update`): one rollout of ``n_steps`` per env and
    ``hp.epochs`` minibatch epochs per update; ``anneal_clip`` scales the clip range by
    ``1 - progress`` (RL-zoo's ``lin_0.2``)."""

    def __init__(
        self, agent: ActorCritic, envs: VectorEnv, make_eval_envs: Callable[[int], VectorEnv],
        *, hp: PPOHyperparameters, n_steps: int, anneal_clip: bool = False, **kw: Any,
    ) -> None:  # fmt: skip
        super().__init__(agent, envs, make_eval_envs, n_steps=n_steps, **kw)
        self.hp, self.anneal_clip = hp, anneal_clip
        # per update: kl_after, max_ratio_dev, clip_fraction, approx_kl
        self.update_history: list[dict[str, float]] = []

    def update(self, batch: Any, loop: Loop) -> dict[str, Tensor]:
        t0 = time.perf_counter()
        clip = self.hp.clip
        if clip is not None and self.anneal_clip:
            clip = clip * max(1.0 - loop.progress, 1e-8)
        ro = self.rollout(self.hp.gamma)
        data = rollout_batch(ro, self.hp.gamma, self.hp.gae_lambda)
        stats = ppo_update(self.agent, data, self.hp, loop.optimize, clip=clip)
        keep = ("kl_after", "max_ratio_dev", "outside_after", "clip_fraction", "approx_kl")
        self.update_history.append({k: stats[k] for k in keep})
        self.train_time_s += time.perf_counter() - t0
        return {**{k: torch.tensor(v) for k, v in stats.items()}, **self._note_episodes()}

    def get_extra_state(self) -> dict[str, Any]:
        return {**super().get_extra_state(), "updates": [dict(u) for u in self.update_history]}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        super().set_extra_state(state)
        self.update_history = [dict(u) for u in state["updates"]]


class A2CTask(ActorCriticTask):
    """A2C: a rollout of ``n_steps`` per env, GAE advantages, one gradient step (Eq. 5 of
    :mod:`replearn.rl.pg`)."""

    def __init__(
        self, agent: ActorCritic, envs: VectorEnv, make_eval_envs: Callable[[int], VectorEnv],
        *, n_steps: int, gamma: float, gae_lambda: float, vf_coef: float, ent_coef: float,
        **kw: Any,
    ) -> None:  # fmt: skip
        super().__init__(agent, envs, make_eval_envs, n_steps=n_steps, **kw)
        self.gamma, self.gae_lambda = gamma, gae_lambda
        self.vf_coef, self.ent_coef = vf_coef, ent_coef

    def update(self, batch: Any, loop: Loop) -> dict[str, Tensor]:
        t0 = time.perf_counter()
        ro = self.rollout(self.gamma)
        adv = gae_advantages(ro.rewards, ro.values, ro.dones, ro.last_value,
                             self.gamma, self.gae_lambda)  # fmt: skip
        D = ro.obs.shape[-1]
        logp, logits, v = self.agent.evaluate_actions(ro.obs.reshape(-1, D), ro.actions.reshape(-1))
        loss, terms = a2c_loss(logp, logits, v, adv.reshape(-1), (adv + ro.values).reshape(-1),
                               vf_coef=self.vf_coef, ent_coef=self.ent_coef)  # fmt: skip
        loop.optimize(loss)
        self.train_time_s += time.perf_counter() - t0
        return {**terms, **self._note_episodes()}


class ReinforceTask(ActorCriticTask):
    """REINFORCE with reward-to-go over the complete episodes of each rollout; with
    ``baseline`` a learned value network is subtracted and regressed on the returns."""

    def __init__(
        self, agent: ActorCritic, envs: VectorEnv, make_eval_envs: Callable[[int], VectorEnv],
        *, n_steps: int, gamma: float, baseline: bool, vf_coef: float = 0.5, **kw: Any,
    ) -> None:  # fmt: skip
        super().__init__(agent, envs, make_eval_envs, n_steps=n_steps, **kw)
        self.gamma, self.baseline, self.vf_coef = gamma, baseline, vf_coef

    def update(self, batch: Any, loop: Loop) -> dict[str, Tensor]:
        t0 = time.perf_counter()
        ro = self.rollout(self.gamma)
        mask = complete_episode_mask(ro.dones).reshape(-1)
        returns = discounted_returns(
            ro.rewards, ro.dones, self.gamma, torch.zeros_like(ro.dones[0])
        )
        D = ro.obs.shape[-1]
        logp, _, v = self.agent.evaluate_actions(ro.obs.reshape(-1, D), ro.actions.reshape(-1))
        g = returns.reshape(-1)
        loss = reinforce_loss(logp, g, baseline=v if self.baseline else None, mask=mask)
        if self.baseline:
            loss = loss + self.vf_coef * 0.5 * (((v - g) ** 2) * mask).sum() / mask.sum().clamp_min(
                1
            )
        loop.optimize(loss)
        self.train_time_s += time.perf_counter() - t0
        return {"loss": loss.detach(), **self._note_episodes()}


class DQNTask(RLTask):
    """DQN (:mod:`replearn.rl.dqn`) in stable-baselines3's schedule: per update,
    ``train_freq`` environment steps (ε-greedy, ε linear over ``exploration_steps``) into
    the replay buffer, then ``gradient_steps`` Huber-loss steps on minibatches once
    ``learning_starts`` steps were taken. The target network is copied every
    ``target_update_interval`` environment steps; with ``target_network=False`` the
    targets use the online network itself."""

    def __init__(
        self, q: QNetwork, envs: VectorEnv, make_eval_envs: Callable[[int], VectorEnv], *,
        gamma: float, buffer_size: int, batch_size: int, learning_starts: int, train_freq: int,
        gradient_steps: int, target_update_interval: int, exploration_steps: int,
        eps_start: float, eps_end: float, target_network: bool = True, double: bool = False,
        **kw: Any,
    ) -> None:  # fmt: skip
        super().__init__(envs, make_eval_envs, **kw)
        self.q, self.gamma, self.batch_size = q, gamma, batch_size
        self.learning_starts, self.train_freq, self.gradient_steps = (
            learning_starts, train_freq, gradient_steps)  # fmt: skip
        self.target_update_interval, self.exploration_steps = (
            target_update_interval, exploration_steps)  # fmt: skip
        self.eps_start, self.eps_end = eps_start, eps_end
        self.use_target, self.double = target_network, double
        self.target = QNetwork(q.obs_dim, q.n_actions, hidden=q.hidden) if target_network else None
        if self.target is not None:
            self.target.load_state_dict(q.state_dict())
            self.target.requires_grad_(False)
        self.replay = ReplayBuffer(buffer_size, envs.obs_dim)

    def greedy_action(self, obs: Tensor) -> Tensor:
        return self.q(obs).argmax(-1)

    @torch.no_grad()
    def _collect(self) -> float:
        N = self.envs.num_envs
        dev = next(self.q.parameters()).device  # the replay buffer moved with the task
        eps = 0.0
        for _ in range(max(self.train_freq // N, 1)):
            eps = linear_epsilon(self.env_steps, start=self.eps_start, end=self.eps_end,
                                 duration=self.exploration_steps)  # fmt: skip
            obs = self.envs.obs.to(dev)
            explore = torch.rand(N) < eps  # on the CPU: the same draws on every device
            random_a = torch.randint(self.envs.n_actions, (N,))
            actions = torch.where(explore, random_a, self.q(obs).argmax(-1).cpu())
            _, r, term, _trunc, final_obs = self.envs.step(actions.numpy())
            self.replay.add(obs, actions, r, final_obs, term)
            for _ in range(N):
                self.env_steps += 1
                if self.target is not None and self.env_steps % self.target_update_interval == 0:
                    torch._foreach_copy_(list(self.target.parameters()),
                                         list(self.q.parameters()))  # fmt: skip
        return eps

    def update(self, batch: Any, loop: Loop) -> dict[str, Tensor]:
        t0 = time.perf_counter()
        eps = self._collect()
        losses = []
        if self.env_steps > self.learning_starts:
            for _ in range(self.gradient_steps):
                b = self.replay.sample(self.batch_size)
                with torch.no_grad():
                    net = self.target if self.target is not None else self.q
                    next_q = net(b["next_obs"])
                    online = self.q(b["next_obs"]) if self.double else None
                    y = dqn_targets(b["rewards"], b["terminated"], next_q, self.gamma,
                                    next_q_online=online)  # fmt: skip
                loss = dqn_loss(self.q(b["obs"]), b["actions"], y)
                loop.optimize(loss)
                losses.append(float(loss.detach()))
        self.train_time_s += time.perf_counter() - t0
        mean_loss = sum(losses) / len(losses) if losses else 0.0
        return {"td_loss": torch.tensor(mean_loss), "epsilon": torch.tensor(eps),
                **self._note_episodes()}  # fmt: skip
