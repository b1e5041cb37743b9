"""A small harness that times replearn against a peer in the same process and run.

Why interleave: on a shared machine the speed of the CPU drifts by tens of per cent
over seconds (other jobs, frequency scaling, caches). Timing contender A for a minute
and then contender B for a minute turns that drift into a fake difference. Here every
*round* runs each contender once, in a freshly shuffled order (seeded), after a few
untimed warm-up rounds; drift then hits both alike, and the per-round ratio
``t(contender) / t(baseline)`` cancels most of it.

What is reported, per contender: the median time, the interquartile range (IQR), the
minimum, the number of rounds, the **ratio of medians** against the baseline and the
**paired ratio** (the median of the per-round ratios) with a distribution-free 95%
confidence interval (order statistics of the per-round ratios). Quote these medians and
ratios, never one absolute time: absolute times only describe this machine at this
minute.

Threads: :func:`compare` fixes ``torch.set_num_threads(threads)`` for the whole run
(default 1) and restores the previous value afterwards. One thread is the default
because on a shared machine with few cores a multi-threaded torch kernel waits for its
slowest thread, and a thread that lost its core to another process makes the round
many times slower: noise, not signal. The value used is written to the results.

A ``threshold`` turns the comparison into a claim: a contender ``holds`` when its ratio
of medians against the baseline is ``<= threshold`` and ``fails`` otherwise. The verdict
comes from the one run that was made; nothing is retried until it passes.

Example::

    result = compare(
        "sleep",
        {"fast": lambda: time.sleep(0.001), "slow": lambda: time.sleep(0.002)},
        rounds=20, warmup=2, baseline="fast", threshold=2.5,
    )
    print(result.to_markdown())

Results go to ``benchmarks/results/<name>.json`` (machine, raw timings, summary) and
``benchmarks/results/<name>.md`` (a table and the command that reproduces it), each
written atomically (temporary file, then ``os.replace``).
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import math
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
"""Where :func:`compare` writes ``<name>.json`` and ``<name>.md`` by default."""

__all__ = [
    "RESULTS_DIR",
    "BenchResult",
    "Contender",
    "Stats",
    "compare",
    "load_result",
    "machine_info",
    "median_ci",
    "summarize",
    "write_atomic",
]


@dataclass(frozen=True)
class Contender:
    """One timed callable plus optional untimed set-up and tear-down around each call.

    Attributes:
        fn: the work to time; its return value is passed to ``teardown``.
        setup: called (untimed) right before every call of ``fn``.
        teardown: called (untimed) right after every call, with ``fn``'s return value.
    """

    fn: Callable[[], object]
    setup: Callable[[], None] | None = None
    teardown: Callable[[object], None] | None = None


@dataclass(frozen=True)
class Stats:
    """Summary of one contender's timings (seconds)."""

    rounds: int
    median: float
    q25: float
    q75: float
    iqr: float
    min: float
    max: float
    mean: float


@dataclass
class BenchResult:
    """Everything one :func:`compare` run measured.

    Attributes:
        name: the benchmark's name (file stem of the results).
        baseline: the contender the ratios divide by (the peer).
        timings: seconds per timed round, per contender, in round order.
        orders: the order the contenders ran in, per timed round.
        stats: per-contender :class:`Stats`.
        ratio_of_medians: ``median(contender) / median(baseline)`` per contender.
        paired_ratio: median of the per-round ratios ``t(contender) / t(baseline)``.
        paired_ratio_ci95: distribution-free 95% interval of that median (``None`` when
            there are too few rounds for one).
        threshold: the largest ratio of medians that counts as ``holds`` (None: no claim).
        verdicts: ``"holds"`` / ``"fails"`` per non-baseline contender (empty with no
            threshold).
        warmup: untimed rounds run first.
        threads: ``torch.get_num_threads()`` during the run (None without torch).
        seed: seed of the per-round shuffling of the order.
        command: the shell command that reproduces the run.
        machine: see :func:`machine_info`.
        notes: free text put under the table (what each contender does).
        extra: free JSON-able data the benchmark adds (e.g. a correctness check).
    """

    name: str
    baseline: str
    timings: dict[str, list[float]]
    orders: list[list[str]]
    stats: dict[str, Stats]
    ratio_of_medians: dict[str, float]
    paired_ratio: dict[str, float]
    paired_ratio_ci95: dict[str, tuple[float, float] | None]
    threshold: float | None
    verdicts: dict[str, str]
    warmup: int
    threads: int | None
    seed: int
    command: str
    machine: dict[str, Any]
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rounds(self) -> int:
        """Timed rounds (every contender ran once per round)."""
        return len(self.orders)

    @property
    def passed(self) -> bool | None:
        """True when every verdict holds, False when one fails, None without a threshold."""
        if self.threshold is None:
            return None
        return all(v == "holds" for v in self.verdicts.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what ``<name>.json`` holds)."""
        return {
            "name": self.name,
            "command": self.command,
            "machine": self.machine,
            "settings": {
                "rounds": self.rounds,
                "warmup": self.warmup,
                "threads": self.threads,
                "order": "shuffled per round",
                "seed": self.seed,
                "baseline": self.baseline,
                "threshold": self.threshold,
            },
            "summary": {
                name: {
                    **asdict(st),
                    "ratio_of_medians": self.ratio_of_medians.get(name),
                    "paired_ratio_median": self.paired_ratio.get(name),
                    "paired_ratio_ci95": (
                        list(ci) if (ci := self.paired_ratio_ci95.get(name)) else None
                    ),
                    "verdict": self.verdicts.get(name),
                }
                for name, st in self.stats.items()
            },
            "passed": self.passed,
            "raw": {"timings_s": self.timings, "orders": self.orders},
            "notes": self.notes,
            "extra": self.extra,
        }

    def to_markdown(self) -> str:
        """The results table with the verdict and the reproducing command."""
        m = self.machine
        lines = [
            f"# Benchmark `{self.name}`",
            "",
            f"{m.get('date', '?')} · {m.get('platform', '?')} · {m.get('cpu_count', '?')} CPUs "
            f"(affinity {m.get('cpu_affinity', '?')}) · Python {m.get('python', '?')} · "
            f"torch {m.get('torch', '-')} · torch threads {self.threads} · "
            f"git {m.get('git', '?')} · load average (1 min) {_load(m, 'load_average_start')} "
            f"at the start, {_load(m, 'load_average')} at the end",
            "",
            f"{self.rounds} timed rounds after {self.warmup} warm-up rounds; every round runs "
            "each contender once, in a shuffled order. Ratios divide by the baseline "
            f"`{self.baseline}`; the paired ratio is the median of the per-round ratios "
            "(95% CI from order statistics).",
            "",
            "| contender | median s | IQR s | min s | rounds | ratio of medians | "
            "paired ratio (95% CI) | verdict |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for name, st in self.stats.items():
            if name == self.baseline:
                ratio, paired, verdict = "1 (baseline)", "-", "-"
            else:
                ratio = f"{self.ratio_of_medians[name]:.3f}"
                ci = self.paired_ratio_ci95.get(name)
                ci_text = f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else ""
                paired = f"{self.paired_ratio[name]:.3f}{ci_text}"
                verdict = self.verdicts.get(name, "-")
                if verdict != "-":
                    verdict = f"**{verdict}** (≤ {self.threshold:g})"
            lines.append(
                f"| {name} | {st.median:.4f} | {st.iqr:.4f} | {st.min:.4f} | {st.rounds} | "
                f"{ratio} | {paired} | {verdict} |"
            )
        if self.threshold is not None:
            lines += [
                "",
                f"Claim: ratio of medians ≤ {self.threshold:g} against `{self.baseline}`: "
                f"**{'holds' if self.passed else 'fails'}** (one run, not retried).",
            ]
            for k in self.verdicts:
                ci = self.paired_ratio_ci95.get(k)
                if ci is not None and ci[0] <= self.threshold <= ci[1]:
                    lines += [
                        "",
                        f"Caution: the 95% interval of `{k}`'s paired ratio "
                        f"({ci[0]:.3f}–{ci[1]:.3f}) contains the threshold {self.threshold:g}: "
                        "the verdict is within this run's noise and may differ on another run.",
                    ]
        if self.notes:
            lines += ["", self.notes.strip()]
        lines += ["", "Reproduce:", "", "```sh", self.command, "```", ""]
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BenchResult:
        """Rebuild a result from :meth:`to_dict` (e.g. to re-render a table without rerunning)."""
        settings, summary, raw = d["settings"], d["summary"], d["raw"]
        stat_fields = Stats.__dataclass_fields__
        baseline = settings["baseline"]
        return cls(
            name=d["name"],
            baseline=baseline,
            timings={k: list(v) for k, v in raw["timings_s"].items()},
            orders=[list(o) for o in raw["orders"]],
            stats={k: Stats(**{f: v[f] for f in stat_fields}) for k, v in summary.items()},
            ratio_of_medians={k: v["ratio_of_medians"] for k, v in summary.items()},
            paired_ratio={k: v["paired_ratio_median"] for k, v in summary.items()},
            paired_ratio_ci95={
                k: tuple(v["paired_ratio_ci95"]) if v["paired_ratio_ci95"] else None
                for k, v in summary.items()
            },
            threshold=settings["threshold"],
            verdicts={k: v["verdict"] for k, v in summary.items() if v.get("verdict")},
            warmup=settings["warmup"],
            threads=settings["threads"],
            seed=settings["seed"],
            command=d["command"],
            machine=dict(d["machine"]),
            notes=d.get("notes", ""),
            extra=dict(d.get("extra", {})),
        )

    def write(self, out_dir: str | os.PathLike[str] = RESULTS_DIR) -> tuple[Path, Path]:
        """Write ``<name>.json`` and ``<name>.md`` atomically; return their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        json_path, md_path = out / f"{self.name}.json", out / f"{self.name}.md"
        write_atomic(json_path, json.dumps(self.to_dict(), indent=2) + "\n")
        write_atomic(md_path, self.to_markdown())
        return json_path, md_path


def load_result(path: str | os.PathLike[str]) -> BenchResult:
    """Read a ``<name>.json`` written by :meth:`BenchResult.write`."""
    return BenchResult.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _load(machine: Mapping[str, Any], key: str) -> str:
    value = machine.get(key)
    return f"{value[0]:.2f}" if value else "?"


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    A reader sees either the old file or the complete new one, never a partial write.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual mode of a new file
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _quantile(sorted_xs: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default) of already sorted data."""
    if not sorted_xs:
        raise ValueError("no data")
    pos = q * (len(sorted_xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def summarize(times: Sequence[float]) -> Stats:
    """Median, quartiles, IQR, min, max and mean of a list of timings."""
    xs = sorted(times)
    q25, q75 = _quantile(xs, 0.25), _quantile(xs, 0.75)
    return Stats(
        rounds=len(xs),
        median=statistics.median(xs),
        q25=q25,
        q75=q75,
        iqr=q75 - q25,
        min=xs[0],
        max=xs[-1],
        mean=statistics.fmean(xs),
    )


def median_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """Distribution-free confidence interval of the median from order statistics.

    The interval ``[x_(k), x_(n+1-k)]`` (1-based, sorted) covers the population median
    with probability ``1 - 2 * P(Binomial(n, 1/2) < k)``; ``k`` is the largest index whose
    coverage is still at least ``confidence``. Needs no assumption about the shape of the
    distribution (only independent rounds). Returns None when ``n`` is too small (n < 6
    for 95%).
    """
    xs = sorted(values)
    n = len(xs)
    best: int | None = None
    below = 0.0  # P(Binomial(n, 1/2) < k)
    for k in range(1, n // 2 + 1):
        below += math.comb(n, k - 1) / 2**n
        if 1.0 - 2.0 * below < confidence:
            break
        best = k
    if best is None:
        return None
    return xs[best - 1], xs[n - best]


def _git_describe() -> str:
    """Short commit of the working tree, with ``+dirty`` when it has changes; '?' if unknown."""
    try:
        root = Path(__file__).resolve().parent
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return commit + ("+dirty" if dirty else "")


def machine_info() -> dict[str, Any]:
    """Where and when the benchmark ran: CPUs, platform, Python, torch and its threads, git."""
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,  # 1/5/15 min
        "git": _git_describe(),
    }
    try:
        import torch
    except ImportError:  # the harness itself needs no torch
        return info
    info.update(
        torch=torch.__version__,
        torch_threads=torch.get_num_threads(),
        torch_interop_threads=torch.get_num_interop_threads(),
        cuda=torch.cuda.is_available(),
    )
    return info


def _default_command() -> str:
    return shlex.join([Path(sys.executable).name, *sys.argv])


def _as_contender(c: Contender | Callable[[], object]) -> Contender:
    return c if isinstance(c, Contender) else Contender(fn=c)


def _time_once(c: Contender, collect: bool) -> float:
    if c.setup is not None:
        c.setup()
    if collect:
        gc.collect()  # start every call from the same heap state (untimed)
    t0 = time.perf_counter()
    out = c.fn()
    elapsed = time.perf_counter() - t0
    if c.teardown is not None:
        c.teardown(out)
    return elapsed


def compare(
    name: str,
    contenders: Mapping[str, Contender | Callable[[], object]],
    *,
    rounds: int = 15,
    warmup: int = 2,
    baseline: str = "peer",
    threshold: float | None = None,
    command: str | None = None,
    threads: int | None = 1,
    seed: int = 0,
    out_dir: str | os.PathLike[str] | None = RESULTS_DIR,
    notes: str = "",
    extra: Mapping[str, Any] | None = None,
    collect_garbage: bool = True,
    progress: Callable[[str], None] | None = None,
) -> BenchResult:
    """Time ``contenders`` interleaved in this process and summarise them against ``baseline``.

    Args:
        name: benchmark name; the results are ``<out_dir>/<name>.json`` and ``.md``.
        contenders: name -> zero-argument callable (or :class:`Contender` with untimed
            set-up / tear-down). Each round calls every contender once.
        rounds: timed rounds (>= 1; >= 6 for a 95% CI of the paired ratio).
        warmup: untimed rounds first (imports, allocator, caches, lazy initialisation).
        baseline: the contender ratios divide by (the peer); must be in ``contenders``.
        threshold: if given, a contender ``holds`` when ``ratio_of_medians <= threshold``
            and ``fails`` otherwise (e.g. 1.05 for "overhead under 5%").
        command: the shell command that reproduces the run (default: this process's argv).
        threads: ``torch.set_num_threads`` for the run, restored after (None: leave it).
        seed: seed of the per-round shuffle of the order.
        out_dir: where to write the results (None: write nothing).
        notes: text put under the markdown table (say what each contender does).
        extra: JSON-able data stored under ``extra`` in the JSON (e.g. a correctness check).
        collect_garbage: run ``gc.collect()`` (untimed) before every timed call.
        progress: called with one line per round (e.g. ``print``); None: silent.

    Returns:
        The :class:`BenchResult` (also written to ``out_dir`` unless it is None).
    """
    if len(contenders) < 2:
        raise ValueError("compare needs at least two contenders")
    if baseline not in contenders:
        raise ValueError(f"baseline {baseline!r} is not one of {sorted(contenders)}")
    if rounds < 1 or warmup < 0:
        raise ValueError(f"need rounds >= 1 and warmup >= 0, got {rounds}, {warmup}")
    if threshold is not None and not threshold > 0:
        raise ValueError(f"threshold must be a positive ratio, got {threshold}")
    cs = {k: _as_contender(v) for k, v in contenders.items()}
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    names = list(cs)
    rng = random.Random(seed)

    torch_mod: Any = None
    previous_threads: int | None = None
    if threads is not None:
        import torch as torch_mod

        previous_threads = torch_mod.get_num_threads()
        torch_mod.set_num_threads(threads)
    try:
        for i in range(warmup):
            order = names[:]
            rng.shuffle(order)
            for k in order:
                _time_once(cs[k], collect_garbage)
            if progress:
                progress(f"warm-up {i + 1}/{warmup}")
        timings: dict[str, list[float]] = {k: [] for k in names}
        orders: list[list[str]] = []
        for r in range(rounds):
            order = names[:]
            rng.shuffle(order)
            for k in order:
                timings[k].append(_time_once(cs[k], collect_garbage))
            orders.append(order)
            if progress:
                cells = "  ".join(f"{k} {timings[k][-1]:.3f}s" for k in names)
                progress(f"round {r + 1}/{rounds}: {cells}")
        machine = machine_info()  # inside: records the threads used
        machine["load_average_start"] = load_start
    finally:
        if torch_mod is not None and previous_threads is not None:
            torch_mod.set_num_threads(previous_threads)

    stats = {k: summarize(v) for k, v in timings.items()}
    base = timings[baseline]
    ratio_of_medians: dict[str, float] = {}
    paired: dict[str, float] = {}
    paired_ci: dict[str, tuple[float, float] | None] = {}
    verdicts: dict[str, str] = {}
    for k in names:
        ratio_of_medians[k] = stats[k].median / stats[baseline].median
        per_round = [a / b for a, b in zip(timings[k], base, strict=True)]
        paired[k] = statistics.median(per_round)
        paired_ci[k] = median_ci(per_round) if k != baseline else None
        if threshold is not None and k != baseline:
            verdicts[k] = "holds" if ratio_of_medians[k] <= threshold else "fails"
    result = BenchResult(
        name=name,
        baseline=baseline,
        timings=timings,
        orders=orders,
        stats=stats,
        ratio_of_medians=ratio_of_medians,
        paired_ratio=paired,
        paired_ratio_ci95=paired_ci,
        threshold=threshold,
        verdicts=verdicts,
        warmup=warmup,
        threads=machine.get("torch_threads"),
        seed=seed,
        command=command if command is not None else _default_command(),
        machine=machine,
        notes=notes,
        extra=dict(extra or {}),
    )
    if out_dir is not None:
        result.write(out_dir)
    return result


def add_throughput(
    result: BenchResult, per_round: float, unit: str, ours: str = "replearn", digits: int = 0
) -> dict[str, float]:
    """Median throughputs (``per_round`` items / median round time) into ``result.extra``
    (``<unit>_per_s_median``, ``throughput_ratio`` of ``ours`` over the baseline) and a line of
    its notes; returns the throughputs per contender."""
    rate = {k: per_round / st.median for k, st in result.stats.items()}
    ratio = rate[ours] / rate[result.baseline]
    result.extra[f"{unit}_per_s_median"] = rate
    result.extra["throughput_ratio"] = ratio
    result.notes += (
        f"\n\nThroughput (median): {ours} {rate[ours]:.{digits}f} {unit}/s, {result.baseline} "
        f"{rate[result.baseline]:.{digits}f} {unit}/s: **{ratio:.3f}x** (claim: >= 1.0x)."
    )
    return rate
