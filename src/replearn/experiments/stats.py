"""Verdicts over training seeds: the one helper every "X beats Y" claim uses.

A claim "X improves on Y" is about the *method*, not about one trained network, so the
noise that matters is the seed-to-seed spread of training (initialisation, data order,
dropout masks), on top of the finite test set. Two estimators:

* :func:`compare_seeds` — one number per training seed and variant (e.g. test accuracy),
  paired by seed (variant X and Y share seed ``s``'s initialisation where they can).
  With :math:`d_s = x_s - y_s` (sign flipped when lower is better), the estimate is
  :math:`\\bar d` and its standard error :math:`\\mathrm{SE} = s_d/\\sqrt{S}` over the ``S``
  seeds. The claim holds when the one-sided lower confidence bound
  :math:`\\bar d - t_{0.95,\\,S-1}\\,\\mathrm{SE}` exceeds the margin (Student's t, because
  ``S`` is small: with 3 seeds the bound sits 2.92 SE below the mean, not 2).
* :func:`compare_seeds_examples` — per-example scores for every seed (e.g. 0/1 correctness
  on the same test set): a two-level bootstrap that resamples seeds, then test examples,
  so both the training spread and the finite test set enter the interval.

Both return a :class:`SeedComparison` whose :meth:`~SeedComparison.evidence` line names the
difference, its spread, the number of seeds and the rule, so every verdict reads alike.

A comparison needs at least 3 seeds (:data:`MIN_SEEDS`); fewer raises ``ValueError``.

Timing claims ("A is faster than B", "the cost grows with k") use :func:`time_rounds` and
:func:`time_ratio`: every contender runs once per round, in alternating order, and the
verdict reads the median over rounds of the paired ratio ``t_A / t_B`` with its
distribution-free 95% interval (:func:`median_interval`, the sign-test interval); "faster"
needs the whole interval below the threshold, so a loaded machine widens the interval and
turns the verdict inconclusive (it fails) rather than flipping it.

For reporting (not for verdicts of new claims, which use :func:`compare_seeds`):
:func:`mean_se` (mean and standard error of the mean) and :func:`paired_difference` (the
same of ``a - b``, paired by seed or by test example).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from scipy import stats as _st

__all__ = [
    "MIN_ROUNDS",
    "MIN_SEEDS",
    "SeedComparison",
    "TimeRatio",
    "compare_seeds",
    "compare_seeds_examples",
    "mean_se",
    "median_interval",
    "paired_difference",
    "ratio_growth",
    "time_ratio",
    "time_rounds",
    "too_few_seeds",
]

MIN_SEEDS = 3
MIN_ROUNDS = 6  # the fewest rounds whose sign-test interval of the median reaches 95%


@dataclass(frozen=True)
class SeedComparison:
    """The outcome of comparing X with Y over training seeds.

    Attributes:
        label_x, label_y: names of the two variants (X is claimed better).
        diffs: per-seed differences in the "better" direction (positive favours X).
        mean: mean difference :math:`\\bar d` (positive favours X).
        se: its standard error over seeds (for the bootstrap: the bootstrap SD).
        lower: one-sided lower confidence bound of the difference.
        confidence: confidence level of ``lower`` (0.95 by default).
        margin: the difference X must beat (0 for "better at all").
        n_seeds: number of training seeds.
        method: ``"paired-t"`` or ``"bootstrap(seeds,examples)"``.
        holds: ``lower > margin``.
        unit: how to print the numbers (``"points"`` multiplies by 100).
        higher_is_better: False when the metric is a loss, error or time: ``diffs`` are then
            ``y - x`` and the evidence writes them so.
    """

    label_x: str
    label_y: str
    diffs: tuple[float, ...]
    mean: float
    se: float
    lower: float
    confidence: float
    margin: float
    n_seeds: int
    method: str
    holds: bool
    unit: str = ""
    higher_is_better: bool = True

    def _fmt(self, v: float) -> str:
        if self.unit == "points":
            return f"{100 * v:+.2f}"
        return f"{v:+.4g}"

    def evidence(self) -> str:
        """One line: difference, spread, seeds, rule and outcome."""
        unit = " points" if self.unit == "points" else ""
        first, second = self.label_x, self.label_y
        if not self.higher_is_better:  # the difference in the "better" direction: Y - X
            first, second = second, first
        return (
            f"{first} - {second} = {self._fmt(self.mean)}{unit} "
            f"(SE {self._fmt(self.se).lstrip('+')} over {self.n_seeds} seeds, {self.method}; "
            f"per seed {', '.join(self._fmt(d) for d in self.diffs)}); "
            f"{int(100 * self.confidence)}% lower bound {self._fmt(self.lower)} "
            f"{'>' if self.holds else '<='} margin {self._fmt(self.margin)}"
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for ``result.json`` metrics)."""
        d = asdict(self)
        d["diffs"] = list(self.diffs)
        return d


def too_few_seeds(n: int) -> str | None:
    """The evidence of a verdict over training seeds that ``n`` seeds cannot give, else None.

    A claim judged with :func:`compare_seeds` needs :data:`MIN_SEEDS` seeds; a tiny preset with
    fewer reports the claim as not measured (verdict False) instead of failing.
    """
    return None if n >= MIN_SEEDS else f"not measured: needs >= {MIN_SEEDS} training seeds, got {n}"


def _checked(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.ndim == 0 or b.ndim == 0 or a.shape[0] != b.shape[0]:
        raise ValueError(f"need paired per-seed values, got {a.shape} and {b.shape}")
    if a.shape[0] < MIN_SEEDS:
        raise ValueError(f"a seed comparison needs >= {MIN_SEEDS} seeds, got {a.shape[0]}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("per-seed values must be finite")
    return a, b


def compare_seeds(
    x: Sequence[float],
    y: Sequence[float],
    *,
    higher_is_better: bool = True,
    margin: float = 0.0,
    confidence: float = 0.95,
    label_x: str = "X",
    label_y: str = "Y",
    unit: str = "",
) -> SeedComparison:
    """Is X better than Y by more than ``margin``, judged over paired training seeds?

    Args:
        x, y: one value per seed for each variant, in the same seed order.
        higher_is_better: False for losses, errors, times.
        margin: the difference to beat, in the metric's unit and the "better" direction.
        confidence: one-sided level of the lower bound (Student's t with S-1 dof).
    """
    a, b = _checked(x, y)
    d = (a - b) if higher_is_better else (b - a)
    n = len(d)
    mean = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(n))
    lower = mean - float(_st.t.ppf(confidence, n - 1)) * se
    return SeedComparison(
        label_x, label_y, tuple(float(v) for v in d), mean, se, lower, confidence,
        margin, n, "paired-t", bool(lower > margin), unit, higher_is_better,
    )  # fmt: skip


def compare_seeds_examples(
    x: np.ndarray | Sequence[Sequence[float]],
    y: np.ndarray | Sequence[Sequence[float]],
    *,
    higher_is_better: bool = True,
    margin: float = 0.0,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    label_x: str = "X",
    label_y: str = "Y",
    unit: str = "",
) -> SeedComparison:
    """Two-level bootstrap over seeds and test examples of per-example scores.

    ``x`` and ``y`` are (S, N): the score of every test example (same N examples, same
    order) for each of S seeds, e.g. 1.0 for a correct prediction. Each bootstrap replicate
    draws S seeds with replacement, then N examples with replacement (shared by X and Y, so
    the comparison stays paired), and takes the mean difference. The lower bound is the
    (1 - confidence) quantile of the replicates.
    """
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"need (seeds, examples) arrays of one shape, got {a.shape}, {b.shape}")
    _checked(a.mean(1), b.mean(1))
    d = (a - b) if higher_is_better else (b - a)
    s, n = d.shape
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    for i in range(n_boot):
        rows = d[rng.integers(0, s, s)]
        reps[i] = rows[:, rng.integers(0, n, n)].mean()
    per_seed = d.mean(1)
    lower = float(np.quantile(reps, 1.0 - confidence))
    return SeedComparison(
        label_x, label_y, tuple(float(v) for v in per_seed), float(d.mean()),
        float(reps.std(ddof=1)), lower, confidence, margin, s, "bootstrap(seeds,examples)",
        bool(lower > margin), unit, higher_is_better,
    )  # fmt: skip


def mean_se(values: Sequence[float] | np.ndarray | torch.Tensor) -> tuple[float, float]:
    r"""Mean :math:`\bar v` and standard error of the mean :math:`s/\sqrt{n}` of ``values``.

    :math:`s` is the sample standard deviation (``n - 1`` in the denominator). One value has
    no spread estimate: its SE is ``inf``, so a "difference > 2 SE" test cannot pass on it.
    A tensor of any shape is flattened (computed in float64 on the CPU).
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().to("cpu", torch.float64).numpy()
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("mean_se needs at least one value")
    mean = float(v.mean())
    if v.size < 2:
        return mean, math.inf
    return mean, float(v.std(ddof=1) / math.sqrt(v.size))


def paired_difference(
    a: Sequence[float] | np.ndarray | torch.Tensor, b: Sequence[float] | np.ndarray | torch.Tensor
) -> tuple[float, float]:
    r"""Mean and standard error of the paired differences :math:`d_i = a_i - b_i`.

    ``a`` and ``b`` are paired entry by entry: by training seed (one number per seed) or by
    test example (e.g. 0/1 correctness of two models on the same images). See :func:`mean_se`.
    """
    if isinstance(a, torch.Tensor):
        a = a.detach().to("cpu", torch.float64).numpy()
    if isinstance(b, torch.Tensor):
        b = b.detach().to("cpu", torch.float64).numpy()
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired values need one length, got {x.size} and {y.size}")
    return mean_se(x - y)


def median_interval(
    values: Sequence[float], confidence: float = 0.95
) -> tuple[float, float] | None:
    r"""Distribution-free confidence interval of the median (the sign-test interval).

    With the values sorted, :math:`[x_{(k)}, x_{(n+1-k)}]` covers the population median with
    probability :math:`1 - 2\,P(\mathrm{Binomial}(n, 1/2) < k)`; ``k`` is the largest index
    whose coverage is still at least ``confidence``. Assumes only independent rounds. Returns
    None when ``n`` is too small for the level (``n < 6`` at 95%).
    """
    xs = sorted(float(v) for v in values)
    n, best, below = len(xs), None, 0.0  # below = P(Binomial(n, 1/2) < k)
    for k in range(1, n // 2 + 1):
        below += math.comb(n, k - 1) / 2**n
        if 1.0 - 2.0 * below < confidence:
            break
        best = k
    return None if best is None else (xs[best - 1], xs[n - best])


def time_rounds(
    fns: Mapping[str, Callable[[], object]],
    rounds: int,
    warmup: int = 2,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Seconds of each ``fn()`` per round, after ``warmup`` untimed rounds.

    Every round runs every contender once; the order reverses from one round to the next,
    so the machine's drift (another job starting, a frequency change) hits all alike and
    the per-round ratios stay paired. The callables must do their whole work (a backward
    pass included) before returning. ``clock`` is wall time by default; single-threaded
    cost claims may pass ``time.thread_time`` (CPU time of the calling thread: a busy
    machine's scheduler waits do not enter it, but work on other threads does not either).
    """
    if rounds < 1 or warmup < 0:
        raise ValueError(f"need rounds >= 1 and warmup >= 0, got {rounds} and {warmup}")
    times: dict[str, list[float]] = {k: [] for k in fns}
    order = list(fns)
    for r in range(warmup + rounds):
        for k in order if r % 2 else order[::-1]:
            t0 = clock()
            fns[k]()
            if r >= warmup:
                times[k].append(clock() - t0)
    return times


@dataclass(frozen=True)
class TimeRatio:
    """The median over rounds of the paired ratio ``t_a / t_b`` and its 95% interval.

    ``lo``/``hi`` are None with fewer than :data:`MIN_ROUNDS` rounds (no 95% interval: every
    "faster"/"slower" verdict on it fails). ``t_a``/``t_b`` are the median seconds.
    """

    label_a: str
    label_b: str
    ratio: float
    lo: float | None
    hi: float | None
    rounds: int
    t_a: float
    t_b: float

    def below(self, threshold: float = 1.0) -> bool:
        """The whole interval lies below ``threshold`` (``a`` is faster, by that factor)."""
        return self.hi is not None and self.hi < threshold

    def above(self, threshold: float = 1.0) -> bool:
        """The whole interval lies above ``threshold`` (``a`` is slower, by that factor)."""
        return self.lo is not None and self.lo > threshold

    def evidence(self) -> str:
        """One line: the medians, the ratio and its interval."""
        ci = "no 95% interval" if self.lo is None else f"95% interval {self.lo:.3g}-{self.hi:.3g}"
        return (
            f"{self.label_a} {_ms(self.t_a)} vs {self.label_b} {_ms(self.t_b)} (medians); "
            f"ratio {self.ratio:.3g} ({ci}, {self.rounds} paired rounds)"
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for ``result.json`` metrics)."""
        return asdict(self)


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def time_ratio(times: Mapping[str, Sequence[float]], a: str, b: str) -> TimeRatio:
    """:class:`TimeRatio` of contenders ``a`` over ``b`` from :func:`time_rounds`' output."""
    ratios = [x / y for x, y in zip(times[a], times[b], strict=True)]
    if not ratios:
        raise ValueError("no timed rounds")
    ci = median_interval(ratios)
    lo, hi = ci if ci is not None else (None, None)
    return TimeRatio(
        a, b, statistics.median(ratios), lo, hi, len(ratios),
        statistics.median(times[a]), statistics.median(times[b]),
    )  # fmt: skip


def ratio_growth(
    times: dict[str, list[float]], a_hi: str, b_hi: str, a_lo: str, b_lo: str
) -> dict[str, Any]:
    """Median over rounds of ``(t[a_hi] / t[b_hi]) / (t[a_lo] / t[b_lo])`` and its 95% interval.

    Each round's four times are paired (one round of :func:`time_rounds`), so the ratio of the
    two ratios is one number per round (e.g. how much faster B's cost grows than A's from one
    length to another); ``lo``/``hi`` are the sign-test interval of its median (None with
    fewer than 6 rounds).
    """
    q = [
        (ah / bh) / (al / bl)
        for ah, bh, al, bl in zip(times[a_hi], times[b_hi], times[a_lo], times[b_lo], strict=True)
    ]
    ci = median_interval(q)
    lo, hi = ci if ci is not None else (None, None)
    return {"ratio": statistics.median(q), "lo": lo, "hi": hi, "rounds": len(q)}
