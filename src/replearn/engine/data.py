"""Where the loop's batches come from: a data set read in shuffled epochs, or a stream.

Three kinds of source, all deterministic functions of the seed so that a checkpoint can
record the position and a resumed run reads the same batches:

* a ``Dataset``: epoch ``e`` is a permutation drawn from a generator seeded by
  ``(seed, e)`` (:func:`epoch_permutation`); the position is ``(epoch, batch_in_epoch)``;
* a :class:`Stream`: an endless source of *global* batches with a ``state_dict`` (random
  windows of a text, samples of a density, ...); every rank draws the same global batch and
  keeps its slice (:func:`rank_slice`), so N processes follow one process's trajectory;
* ``None``: the task draws its own data inside ``Task.update`` (RL rollouts) and declares
  the state it needs (environments, their RNG) in its ``state_dict``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, TensorDataset

__all__ = [
    "FixedBatches", "RandomWindows", "SampleStream", "Stream", "batch_size_of",
    "epoch_permutation", "evaluate", "iterate_batches", "rank_slice", "to_device",
]  # fmt: skip


def batch_size_of(batch: Any) -> int:
    """Leading dimension of the first tensor in a batch."""
    if isinstance(batch, Tensor):
        return batch.shape[0]
    if isinstance(batch, (list, tuple)):
        return batch_size_of(batch[0])
    if isinstance(batch, dict):
        return batch_size_of(next(iter(batch.values())))
    raise TypeError(f"cannot find the batch size of {type(batch).__name__}")


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a (nested) batch to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def rank_slice(batch: Any, rank: int, world_size: int) -> Any:
    """This rank's equal slice (along the leading dimension) of a global batch."""
    if world_size == 1:
        return batch
    if isinstance(batch, Tensor):
        if batch.shape[0] % world_size:
            raise ValueError(f"a batch of {batch.shape[0]} cannot be split over {world_size} ranks")
        per = batch.shape[0] // world_size
        return batch[rank * per : (rank + 1) * per]
    if isinstance(batch, (list, tuple)):
        return type(batch)(rank_slice(b, rank, world_size) for b in batch)
    if isinstance(batch, dict):
        return {k: rank_slice(v, rank, world_size) for k, v in batch.items()}
    return batch


def epoch_permutation(n: int, seed: int, epoch: int) -> Tensor:
    """The data order of one epoch: a permutation drawn from a generator seeded by (seed, epoch)."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen)


def iterate_batches(
    dataset: Dataset,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    start: int = 0,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int = 0,
) -> Iterator[Any]:
    """This rank's slices of the global batches of one epoch, from batch ``start`` on.

    Incomplete last batches are dropped, so every rank sees equal slices.
    ``TensorDataset`` with ``num_workers=0`` is indexed directly (no per-example
    collation); anything else goes through a ``DataLoader`` with a fixed batch list
    and its own generator (so it never draws from the global RNG).
    """
    n = len(dataset)  # type: ignore[arg-type]
    per_rank = batch_size // world_size
    perm = epoch_permutation(n, seed, epoch)
    n_batches = n // batch_size
    slices = [
        perm[b * batch_size + rank * per_rank : b * batch_size + (rank + 1) * per_rank]
        for b in range(start, n_batches)
    ]
    if isinstance(dataset, TensorDataset) and num_workers == 0:
        for idx in slices:
            yield tuple(t[idx] for t in dataset.tensors)
        return
    if not slices:
        return
    loader = DataLoader(
        dataset,
        batch_sampler=[s.tolist() for s in slices],
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch),
        persistent_workers=False,
    )
    yield from loader


class Stream:
    """An endless source of global batches whose position is a ``state_dict``.

    Subclasses define :meth:`next_batch` (the next *global* batch: every rank draws the
    same one and the loop keeps this rank's slice) and, if they hold state beyond what
    the constructor rebuilds, :meth:`state_dict` / :meth:`load_state_dict` (tensors,
    numbers, strings, lists and dicts only: checkpoints are read with ``weights_only``).
    """

    def next_batch(self) -> Any:
        """The next global batch."""
        raise NotImplementedError(f"{type(self).__name__} must define next_batch")

    def state_dict(self) -> dict[str, Any]:
        """The position in the stream."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Go back to a position :meth:`state_dict` returned."""


class SampleStream(Stream):
    """Batches of ``sample_fn(batch_size, generator)`` from a generator seeded by ``seed``.

    For densities one can sample without end (2-D toys, Gaussian mixtures): the
    generator's state is the position.
    """

    def __init__(
        self, sample_fn: Callable[[int, torch.Generator], Any], *, batch_size: int, seed: int = 0
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.sample_fn, self.batch_size = sample_fn, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def next_batch(self) -> Any:
        return self.sample_fn(self.batch_size, self.generator)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


class FixedBatches(Stream):
    """The rows of a precomputed batch sequence, in order, then again from the start.

    For experiments whose data order is part of the design (an online stream of item ids, a
    sampled-with-replacement order): the position is the index of the next batch.

    Shape:
        batches (steps, batch, *) -> the global batch ``batches[i]`` at update i.
    """

    def __init__(self, batches: Tensor) -> None:
        if batches.dim() < 2 or len(batches) < 1:
            raise ValueError(f"need (steps, batch, ...) batches, got {tuple(batches.shape)}")
        self.batches, self.position = batches, 0

    def next_batch(self) -> Tensor:
        batch = self.batches[self.position % len(self.batches)]
        self.position += 1
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.position = int(state["position"])


class RandomWindows(Stream):
    """Random windows of a token sequence, as nanoGPT samples them: ``(x, y)``, y = x shifted.

    Shape:
        data (N,) -> batches x, y of (batch_size, block_size) int64.
    """

    def __init__(self, data: Tensor, *, block_size: int, batch_size: int, seed: int = 0) -> None:
        if data.dim() != 1 or len(data) <= block_size:
            raise ValueError(
                f"need a 1-D sequence longer than block_size={block_size}, got {tuple(data.shape)}"
            )
        self.windows = data.unfold(0, block_size + 1, 1)  # (N - block_size, block_size + 1)
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def next_batch(self) -> tuple[Tensor, Tensor]:
        idx = torch.randint(len(self.windows), (self.batch_size,), generator=self.generator)
        w = self.windows[idx]  # (B, block_size + 1)
        return w[:, :-1], w[:, 1:]

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


@torch.no_grad()
def evaluate(
    task: Any,
    dataset: Dataset,
    *,
    batch_size: int = 512,
    device: torch.device | str | None = None,
    prefix: str = "val_",
) -> dict[str, float]:
    """Average ``task.validation_step`` over ``dataset`` in order (weighted by batch size).

    Batches go to ``device``, by default the device of the task's first parameter (or
    buffer; the CPU for a task with neither).
    """
    if device is None:
        first = next(itertools.chain(task.parameters(), task.buffers()), None)
        device = first.device if first is not None else torch.device("cpu")
    was_training = task.training
    task.eval()
    totals: dict[str, float] = {}
    count = 0
    n = len(dataset)  # type: ignore[arg-type]
    if isinstance(dataset, TensorDataset):
        batches: Any = (
            tuple(t[i : i + batch_size] for t in dataset.tensors) for i in range(0, n, batch_size)
        )
    else:
        batches = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    for batch in batches:
        batch = to_device(batch, torch.device(device))
        size = batch_size_of(batch)
        for key, value in task.validation_step(batch).items():
            totals[key] = totals.get(key, 0.0) + float(value) * size
        count += size
    task.train(was_training)
    return {f"{prefix}{k}": v / max(count, 1) for k, v in totals.items()}
