"""PPO and DQN on CartPole-v1: replearn vs stable-baselines3, same hyperparameters and steps.

    python benchmarks/bench_rl.py                          # PPO and DQN, 3 seeds x 100k steps
    python benchmarks/bench_rl.py --algos ppo --seeds 1 --steps 20000
    python benchmarks/bench_rl.py --acrobot --acrobot-steps 100000   # also Acrobot-v1

Claims checked (issue "Reinforcement learning", benchmarks):

* PPO and DQN each reach a mean greedy evaluation return >= 475 (100 episodes) within
  100k environment steps, on every seed (3 seeds);
* replearn's training wall time is at most 0.67x stable-baselines3's (ratio of medians
  over the seeds, interleaved in the same process; ``--threshold``) at equal or better
  return.

Workload: RL-zoo's tuned CartPole-v1 hyperparameters on both sides (PPO: 8 environments x
32 steps, 20 epochs of one 256-sample minibatch, lr and clip range decaying linearly from
1e-3 and 0.2, gamma 0.98, lambda 0.8, 64-64 tanh networks, gradient norm 0.5; DQN: one
environment, 256 steps then 128 gradient steps of 64 samples, lr 2.3e-3, target copied
every 10 environment steps, ε 1 -> 0.04 over the first 16% of the steps, learning starts
after 1000 steps, 256-256 ReLU network, gradient norm 10). A timed call is one whole
training run of ``--steps`` environment steps with the round's seed (replearn: the
experiment's own training function through the engine, which writes its metrics and one
final checkpoint; stable-baselines3: ``model.learn``). After timing, every trained policy is
evaluated the same way, untimed: greedy actions (``deterministic=True``),
``--eval-episodes`` episodes on 10 fresh environments (replearn's ``evaluate_policy``). The
CPU time of each call (``time.process_time``) is recorded too: on a machine shared with
other jobs it is the steadier measure.

With ``--acrobot`` the ``ppo-acrobot`` and ``dqn-acrobot`` experiments (CleanRL's
defaults) run once per seed and are reported next to CleanRL's published returns on
Acrobot-v1, -86 (PPO) and -92 (DQN) after 500k steps (training-episode averages; ours are
greedy evaluations, so the comparison is for orientation only).

Results: ``benchmarks/results/rl_<algo>_cartpole.{json,md}`` and
``benchmarks/results/rl_acrobot.md``.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from harness import RESULTS_DIR, compare, write_atomic
from replearn.engine import RunContext
from replearn.experiments.rl import dqn_acrobot, dqn_cartpole, ppo_acrobot, ppo_cartpole
from replearn.rl.agents import mlp_forward
from replearn.rl.envs import VectorEnv
from replearn.rl.rollout import evaluate_policy

CLEANRL = {"ppo": -86.0, "dqn": -92.0}


def _ctx(tmp: Path, name: str) -> RunContext:
    ctx = RunContext(out=tmp / name, seed=0, progress=False)
    ctx.start()
    return ctx


def _evaluate(act: Any, env_id: str, episodes: int, seed: int) -> list[float]:
    make = lambda: VectorEnv(env_id, 10, seed=10_000 + seed)  # noqa: E731
    with torch.no_grad():
        return evaluate_policy(act, make, episodes)


def replearn_ppo(cfg: ppo_cartpole.Config, seed: int, tmp: Path) -> Any:
    ctx = _ctx(tmp, f"replearn_ppo_{seed}")
    task, _ = ppo_cartpole.train_ppo(cfg, ctx, seed)
    ctx.close()
    return lambda obs: mlp_forward(task.agent.actor, obs).argmax(-1)


def replearn_dqn(cfg: dqn_cartpole.Config, seed: int, tmp: Path) -> Any:
    ctx = _ctx(tmp, f"replearn_dqn_{seed}")
    task, _, _ = dqn_cartpole.train_dqn(cfg, ctx, seed)
    ctx.close()
    return lambda obs: task.q(obs).argmax(-1)


def _sb3_act(model: Any) -> Any:
    return lambda obs: torch.as_tensor(model.predict(obs.numpy(), deterministic=True)[0])


def sb3_ppo(steps: int, seed: int) -> Any:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = PPO(
        "MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
        ent_coef=0.0, learning_rate=lambda p: 1e-3 * p, clip_range=lambda p: 0.2 * p,
        seed=seed, device="cpu", verbose=0,
    )  # fmt: skip
    model.learn(total_timesteps=steps)
    return _sb3_act(model)


def sb3_dqn(steps: int, seed: int) -> Any:
    from stable_baselines3 import DQN
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env("CartPole-v1", n_envs=1, seed=seed)
    model = DQN(
        "MlpPolicy", env, learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
        learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256,
        gradient_steps=128, exploration_fraction=0.16, exploration_final_eps=0.04,
        policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu", verbose=0,
    )  # fmt: skip
    model.learn(total_timesteps=steps)
    return _sb3_act(model)


def bench_cartpole(algo: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Time both libraries over ``args.seeds`` rounds, then evaluate every policy."""
    eng = {"checkpoint_every": 0, "progress": False, "log_every": 50}
    if algo == "ppo":
        cfg_p = ppo_cartpole.Config(n_seeds=1, total_env_steps=args.steps, eval_episodes=0)
        cfg_p = replace(cfg_p, engine=replace(cfg_p.engine, **eng))
        ours = lambda s: replearn_ppo(cfg_p, s, tmp)  # noqa: E731
        peer = lambda s: sb3_ppo(args.steps, s)  # noqa: E731
    else:
        cfg_d = dqn_cartpole.Config(n_seeds=1, total_env_steps=args.steps, eval_episodes=0)
        cfg_d = replace(cfg_d, engine=replace(cfg_d.engine, **eng))
        ours = lambda s: replearn_dqn(cfg_d, s, tmp)  # noqa: E731
        peer = lambda s: sb3_dqn(args.steps, s)  # noqa: E731
    policies: dict[str, list[Any]] = {"replearn": [], "sb3": []}
    cpu: dict[str, list[float]] = {"replearn": [], "sb3": []}

    def contender(name: str, fn: Any) -> Any:
        def call() -> None:
            t0 = time.process_time()
            policies[name].append(fn(len(policies[name])))
            cpu[name].append(time.process_time() - t0)

        return call

    # untimed warm-up of both code paths (imports, lazy initialisation): a tiny run each
    if algo == "ppo":
        replearn_ppo(replace(cfg_p, total_env_steps=256), 99, tmp)
        sb3_ppo(256, 99)
    else:
        replearn_dqn(replace(cfg_d, total_env_steps=256, learning_starts=0), 99, tmp)
        sb3_dqn(300, 99)
    result = compare(
        f"rl_{algo}_cartpole",
        {"replearn": contender("replearn", ours), "sb3": contender("sb3", peer)},
        rounds=args.seeds, warmup=0, baseline="sb3", threshold=args.threshold,
        command="python benchmarks/bench_rl.py " + shlex.join(sys.argv[1:]), out_dir=None,
        progress=print,
    )  # fmt: skip
    returns = {
        k: [statistics.fmean(_evaluate(p, "CartPole-v1", args.eval_episodes, i))
            for i, p in enumerate(ps)]
        for k, ps in policies.items()
    }  # fmt: skip
    cpu_ratio = statistics.median(cpu["replearn"]) / statistics.median(cpu["sb3"])
    result.extra.update({
        "env_steps": args.steps, "eval_episodes": args.eval_episodes,
        "cpu_s": cpu, "cpu_ratio_of_medians": cpu_ratio,
        "eval_mean_return_per_seed": returns,
        "all_seeds_at_least_475": {k: all(r >= 475 for r in v) for k, v in returns.items()},
    })  # fmt: skip
    result.notes = (
        f"{algo.upper()} on CartPole-v1, RL-zoo hyperparameters, {args.steps} environment steps "
        f"per timed call (one seed per round). Greedy evaluation over {args.eval_episodes} "
        "episodes per seed: "
        + "; ".join(f"{k} {', '.join(f'{r:.1f}' for r in v)}" for k, v in returns.items())
        + f". CPU time of the process per call (process_time, robust to a loaded machine): "
        f"replearn {', '.join(f'{c:.1f}' for c in cpu['replearn'])} s, sb3 "
        f"{', '.join(f'{c:.1f}' for c in cpu['sb3'])} s; ratio of medians {cpu_ratio:.3f}."
    )
    result.write(args.out)
    return {"result": result, "returns": returns}


def bench_acrobot(args: argparse.Namespace, tmp: Path) -> str:
    """Run ppo-acrobot and dqn-acrobot per seed; a markdown table next to CleanRL's."""
    rows = ["| algorithm | steps | greedy eval return per seed | mean | CleanRL (500k) |",
            "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for algo, mod, exp in (("ppo", ppo_cartpole, ppo_acrobot), ("dqn", dqn_cartpole, dqn_acrobot)):
        cfg = replace(exp.Config(), n_seeds=1, total_env_steps=args.acrobot_steps, eval_episodes=0)
        rets = []
        for s in range(args.seeds):
            ctx = _ctx(tmp, f"acrobot_{algo}_{s}")
            if algo == "ppo":
                task, _ = mod.train_ppo(cfg, ctx, s)
                act = lambda o, t=task: mlp_forward(t.agent.actor, o).argmax(-1)  # noqa: E731
            else:
                task, _, _ = mod.train_dqn(cfg, ctx, s)
                act = lambda o, t=task: t.q(o).argmax(-1)  # noqa: E731
            ctx.close()
            rets.append(statistics.fmean(_evaluate(act, "Acrobot-v1", args.eval_episodes, s)))
        rows.append(f"| {algo.upper()} | {args.acrobot_steps} | "
                    f"{', '.join(f'{r:.1f}' for r in rets)} | {statistics.fmean(rets):.1f} | "
                    f"{CLEANRL[algo]:.0f} |")  # fmt: skip
    text = "# Acrobot-v1: replearn next to CleanRL's published returns\n\n" + "\n".join(rows)
    text += (
        "\n\nCommand: `python benchmarks/bench_rl.py " + shlex.join(sys.argv[1:]) + "`. "
        f"Greedy evaluation over {args.eval_episodes} episodes; CleanRL's numbers are means "
        "of training-episode returns at the end of 500k steps (their benchmark page).\n"
    )
    write_atomic(Path(args.out) / "rl_acrobot.md", text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", default="ppo,dqn")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--threshold", type=float, default=0.67)
    parser.add_argument("--acrobot", action="store_true")
    parser.add_argument("--acrobot-steps", type=int, default=500_000)
    parser.add_argument("--out", default=str(RESULTS_DIR))
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        for algo in args.algos.split(","):
            if algo:
                out = bench_cartpole(algo, args, Path(tmp))
                print(out["result"].to_markdown())
        if args.acrobot:
            print(bench_acrobot(args, Path(tmp)))


if __name__ == "__main__":
    main()
