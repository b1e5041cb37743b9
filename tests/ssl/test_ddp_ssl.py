"""Under 2 gloo processes MoCo's queue and DINO's centre hold the global batch's statistics.

Each rank feeds its own half of a batch; afterwards every rank's queue (and centre) must equal
what one process computes from both halves: the keys of rank 0 then rank 1 enqueued, the centre
updated with the mean over all 2*B teacher outputs. float64, exact up to rounding.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from replearn.ssl.encoders import ConvEncoder
from replearn.ssl.losses import dino_center_update
from replearn.ssl.methods import DINO, MoCo
from replearn.ssl.methods.common import gather_batch

B = 3


def _models() -> tuple[MoCo, DINO]:
    torch.manual_seed(0)  # the same weights on every rank
    enc = ConvEncoder((1, 24), width=4, features=16).double()
    moco = MoCo(enc, feat_dim=16, proj_dim=4, hidden=8, queue_size=10).double()
    enc = ConvEncoder((1, 24), width=4, features=16).double()
    dino = DINO(enc, feat_dim=16, out_dim=10, hidden=8, bottleneck=4).double()
    return moco, dino


def _worker(out_dir: str) -> None:
    """One rank (started by torchrun): its share of each input, then the state it ends with."""
    dist.init_process_group("gloo")
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        moco, dino = _models()
        xq, xk, x1, x2 = (x[rank] for x in _batch_pairs(world))
        moco(xq, xk)
        dino(x1, x2)
        rows = gather_batch(torch.full((2, 1), float(rank)))
        torch.save(
            {"queue": moco.queue, "ptr": moco.queue_ptr, "center": dino.center, "rows": rows},
            Path(out_dir) / f"rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


def _batch_pairs(world: int) -> list[list[torch.Tensor]]:
    """Four inputs (query, key, DINO view 1, view 2), each split into ``world`` rank shares."""
    g = torch.Generator().manual_seed(1)
    full = [torch.randn(world * B, 1, 24, generator=g, dtype=torch.float64) for _ in range(4)]
    return [list(x.chunk(world)) for x in full]


@pytest.mark.timeout(180)
def test_queue_and_centre_are_global_under_two_processes(tmp_path: Path) -> None:
    world = 2
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone",
         f"--nproc_per_node={world}", __file__, str(tmp_path)],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    # one process, both ranks' batches; each rank's BatchNorm sees its own share (as in DDP),
    # so keys and teacher outputs are computed share by share
    moco, dino = _models()
    _xq, xk, x1, x2 = _batch_pairs(world)
    queue0, center0 = moco.queue.clone(), dino.center.clone()
    with torch.no_grad():
        keys = torch.cat([F.normalize(moco.key(k), dim=1) for k in xk])
        teacher = torch.cat(
            [torch.stack([dino.teacher(a), dino.teacher(b)]) for a, b in zip(x1, x2, strict=True)],
            dim=1,
        )
    want_queue = queue0.clone()
    want_queue[: world * B] = keys
    want_center = dino_center_update(center0, teacher, momentum=dino.center_momentum)
    for r in range(world):
        got = torch.load(tmp_path / f"rank{r}.pt", weights_only=True)
        torch.testing.assert_close(got["queue"], want_queue, rtol=1e-12, atol=1e-14)
        assert int(got["ptr"]) == world * B
        torch.testing.assert_close(got["center"], want_center, rtol=1e-12, atol=1e-14)
        assert got["rows"].flatten().tolist() == [0.0, 0.0, 1.0, 1.0]  # rank order


def test_gather_batch_is_identity_in_one_process() -> None:
    t = torch.randn(4, 3)
    assert gather_batch(t) is t


if __name__ == "__main__":
    _worker(sys.argv[1])
