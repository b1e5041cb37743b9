"""Vectorized gymnasium environments whose whole state can be saved and restored.

:class:`VectorEnv` steps ``num_envs`` copies of a gymnasium environment in lock step, as
gymnasium's ``SyncVectorEnv`` and stable-baselines3's ``DummyVecEnv`` do, with
*same-step* autoreset (SB3's convention): when a copy's episode ends, the observation
returned is already the first one of its next episode, and the last observation of the
finished episode is handed back separately (``final_obs``) so a truncated episode can be
bootstrapped. The time limit is applied here (``max_episode_steps``, by default the
environment's registered limit: 500 for CartPole-v1, 500 for Acrobot-v1), so the copies
are unwrapped gymnasium environments.

Checkpointing: :meth:`VectorEnv.get_state` returns the physical state of every copy
(``env.unwrapped.state`` and a few known extras), its random generator, the step counters,
the current observations and the running episode returns, as tensors, numbers, strings,
lists and dicts (what ``torch.load(weights_only=True)`` accepts); :meth:`set_state` puts
them back, so a resumed run continues bitwise identically. Environments with other
internal state define ``get_state()/set_state(dict)`` themselves.

Tests: a restored copy continues with the same observations and rewards as the original;
autoreset and truncation follow the conventions above.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

__all__ = ["VectorEnv", "rng_from_state", "rng_to_state"]

_EXTRA_ATTRS = ("steps_beyond_terminated", "last_u")


def rng_to_state(rng: np.random.Generator) -> dict[str, Any]:
    """A numpy generator's state with its big integers as strings (for weights_only loads)."""

    def conv(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: conv(v) for k, v in x.items()}
        if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
            return str(int(x))
        return x

    return conv(rng.bit_generator.state)


def rng_from_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_to_state`."""

    def conv(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: conv(v) for k, v in x.items()}
        if isinstance(x, str) and x.lstrip("-").isdigit():
            return int(x)
        return x

    rng.bit_generator.state = conv(state)


def _env_state(env: Any) -> dict[str, Any]:
    if hasattr(env, "get_state"):
        return {"custom": env.get_state(), "rng": rng_to_state(env.np_random)}
    out: dict[str, Any] = {"rng": rng_to_state(env.np_random)}
    state = getattr(env, "state", None)
    out["state"] = None if state is None else torch.as_tensor(np.asarray(state, np.float64))
    out["state_type"] = (
        str(state.dtype) if isinstance(state, np.ndarray) else type(state).__name__
    )  # Acrobot keeps float32 after reset and float64 after a step; CartPole a tuple/array
    for name in _EXTRA_ATTRS:
        if hasattr(env, name):
            value = getattr(env, name)
            out[name] = None if value is None else float(np.asarray(value))
    return out


def _set_env_state(env: Any, state: dict[str, Any]) -> None:
    rng_from_state(env.np_random, state["rng"])
    if "custom" in state:
        env.set_state(state["custom"])
        return
    new, kind = state["state"], state["state_type"]
    if new is None:
        env.state = None
    elif kind == "tuple":
        env.state = tuple(float(x) for x in new.tolist())
    else:
        env.state = new.numpy().astype(np.dtype(kind))
    for name in _EXTRA_ATTRS:
        if name in state:
            value = state[name]
            if name == "steps_beyond_terminated" and value is not None:
                value = int(value)
            setattr(env, name, value)


class VectorEnv:
    """``num_envs`` copies of a gymnasium environment with same-step autoreset.

    Args:
        env: a registered gymnasium id (``"CartPole-v1"``) or a factory returning a
            ``gymnasium.Env``.
        num_envs: copies N.
        seed: copy i is first reset with seed ``seed + i``.
        max_episode_steps: time limit (None: the registered one, if any).
        info_keys: numeric ``info`` entries summed per episode (e.g. ``"true_reward"``).
    """

    def __init__(
        self,
        env: str | Callable[[], gym.Env],
        num_envs: int,
        *,
        seed: int = 0,
        max_episode_steps: int | None = None,
        info_keys: tuple[str, ...] = (),
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        made = [gym.make(env) if isinstance(env, str) else env() for _ in range(num_envs)]
        spec_limit = made[0].spec.max_episode_steps if made[0].spec is not None else None
        self.envs = [e.unwrapped for e in made]
        self.max_episode_steps = max_episode_steps or spec_limit
        self.num_envs = num_envs
        self.observation_space = made[0].observation_space
        self.action_space = made[0].action_space
        self.info_keys = info_keys
        obs = [e.reset(seed=seed + i)[0] for i, e in enumerate(self.envs)]
        self.obs = self._stack(obs)  # (N, D) float32
        self.elapsed = np.zeros(num_envs, dtype=np.int64)
        self.ep_return = np.zeros(num_envs, dtype=np.float64)
        self.ep_info = {k: np.zeros(num_envs, dtype=np.float64) for k in info_keys}
        self.completed: list[dict[str, float]] = []  # finished episodes since the last drain

    @staticmethod
    def _stack(obs: list[Any]) -> Tensor:
        return torch.as_tensor(np.stack([np.asarray(o, dtype=np.float32) for o in obs]))

    @property
    def obs_dim(self) -> int:
        """Length of a flat observation."""
        return int(np.prod(self.observation_space.shape))

    @property
    def n_actions(self) -> int:
        """Number of discrete actions."""
        return int(self.action_space.n)

    def step(self, actions: Tensor | np.ndarray) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Step every copy; returns ``(obs, rewards, terminated, truncated, final_obs)``.

        ``obs`` already starts the next episode where one ended; ``final_obs`` holds the last
        observation of an episode that ended on this step (and ``obs`` elsewhere).

        Shape:
            actions: (N,); obs, final_obs: (N, D); rewards, terminated, truncated: (N,).
        """
        acts = np.asarray(actions).reshape(self.num_envs)
        obs, final = [], []
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terms = np.zeros(self.num_envs, dtype=bool)
        truncs = np.zeros(self.num_envs, dtype=bool)
        for i, env in enumerate(self.envs):
            o, r, term, trunc, info = env.step(int(acts[i]))
            self.elapsed[i] += 1
            if self.max_episode_steps is not None and self.elapsed[i] >= self.max_episode_steps:
                trunc = True
            rewards[i], terms[i], truncs[i] = r, term, trunc and not term
            self.ep_return[i] += r
            for k in self.info_keys:
                self.ep_info[k][i] += float(info.get(k, 0.0))
            final.append(o)
            if term or trunc:
                row = {"return": float(self.ep_return[i]), "length": float(self.elapsed[i])}
                row.update({k: float(v[i]) for k, v in self.ep_info.items()})
                self.completed.append(row)
                self.ep_return[i], self.elapsed[i] = 0.0, 0
                for v in self.ep_info.values():
                    v[i] = 0.0
                o, _ = env.reset()
            obs.append(o)
        self.obs = self._stack(obs)
        return (
            self.obs,
            torch.as_tensor(rewards, dtype=torch.float32),
            torch.as_tensor(terms),
            torch.as_tensor(truncs),
            self._stack(final),
        )

    def drain_episodes(self) -> list[dict[str, float]]:
        """Episodes finished since the last call (``return``, ``length``, info sums)."""
        out, self.completed = self.completed, []
        return out

    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly (see the module docstring)."""
        return {
            "envs": [_env_state(e) for e in self.envs],
            "obs": self.obs.clone(),
            "elapsed": torch.as_tensor(self.elapsed),
            "ep_return": torch.as_tensor(self.ep_return),
            "ep_info": {k: torch.as_tensor(v) for k, v in self.ep_info.items()},
            "completed": [dict(r) for r in self.completed],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state`."""
        if len(state["envs"]) != self.num_envs:
            raise ValueError(f"state has {len(state['envs'])} copies, this pool {self.num_envs}")
        for env, s in zip(self.envs, state["envs"], strict=True):
            _set_env_state(env, s)
        self.obs = state["obs"].clone()
        self.elapsed = state["elapsed"].numpy().copy()
        self.ep_return = state["ep_return"].numpy().copy()
        self.ep_info = {k: v.numpy().copy() for k, v in state["ep_info"].items()}
        self.completed = [dict(r) for r in state["completed"]]
