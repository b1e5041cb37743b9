"""The proxy-bonus grid world: true and proxy returns of two policies by hand."""

from __future__ import annotations

import pytest

from replearn.rl.hacking import ProxyBonusGrid


def _run(env, actions):
    env.reset(seed=0)
    proxy = true = 0.0
    done = False
    for a in actions:
        _, r, done, _, info = env.step(a)
        proxy += r
        true += info["true_reward"]
        if done:
            break
    return proxy, true, done


def test_goal_seeking_and_looping_returns():
    env = ProxyBonusGrid(5, bonus=0.3, max_steps=40)
    # down x4 (column 0), then right x4 along the bottom row: passes the bonus tile once
    proxy, true, done = _run(env, [2] * 4 + [1] * 4)
    assert done and true == 1.0 and proxy == pytest.approx(1.3)
    # reach the bonus tile (4, 3), then step up and down forever
    path = [2] * 4 + [1] * 3 + [0, 2] * 20
    proxy, true, done = _run(env, path[:40])
    assert not done and true == 0.0
    assert proxy == pytest.approx(0.3 * (1 + 16))  # entered at step 7, then every 2 steps


def test_bumping_on_the_tile_pays_nothing_and_state_roundtrip():
    env = ProxyBonusGrid(3, bonus=1.0)
    env.reset(seed=0)
    env.step(2)
    _, r, *_ = env.step(2)  # (2, 0)
    _, r, *_ = env.step(1)  # enter the bonus tile (2, 1)
    assert r == 1.0
    _, r, *_ = env.step(2)  # bump into the bottom wall: stays, no bonus
    assert r == 0.0
    state = env.get_state()
    other = ProxyBonusGrid(3, bonus=1.0)
    other.reset(seed=1)
    other.set_state(state)
    assert other.pos == (2, 1)
    with pytest.raises(ValueError, match="size"):
        ProxyBonusGrid(2)
