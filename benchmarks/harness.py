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

A ``threshold`` turns the comparison into a claim about the time ratio
``t(contender) / t(baseline)``, judged on the 95% interval of the paired ratio, never on a
point estimate (:func:`judge_ratio`):

* a **target** ("ratio <= T"): ``holds`` when the whole interval lies below ``T``,
  ``parity`` when the interval contains ``T`` (the run cannot tell the two sides of the
  target apart), ``fails`` when the whole interval lies above ``T``;
* a **parity check** (``parity=True``: the contender runs the *same kernel* as the baseline,
  e.g. a drop-in whose fast path calls torch's fused kernel, timed against torch itself;
  such a comparison can show that the wrapper costs nothing, never a win): ``parity`` when
  the interval lies inside the tolerance band ``[1/T, T]``, ``fails`` when it lies wholly
  outside, ``inconclusive`` when it crosses a bound;
* with fewer than 6 timed rounds there is no 95% interval and the verdict is
  ``inconclusive`` whatever the point estimate.

The verdict comes from the one run that was made; nothing is retried until it passes.

Load: the 1-minute load average is read before the first and after the last round, with the
torch thread count and the CPU model; the markdown says "machine shared" only when the
measured load exceeds the run's own threads by more than :data:`SHARED_MARGIN`
(:func:`load_statement`), and drops any sentence about a shared machine typed into the notes.

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
import re
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

SHARED_MARGIN = 0.5
"""Runnable threads beyond the run's own that make :func:`load_statement` say "shared"."""

VERDICTS = ("holds", "parity", "fails", "inconclusive")
"""Every verdict :func:`judge_ratio` can give."""

__all__ = [
    "RESULTS_DIR",
    "SHARED_MARGIN",
    "VERDICTS",
    "BenchResult",
    "Contender",
    "Stats",
    "compare",
    "cpu_model",
    "judge_ratio",
    "load_result",
    "load_statement",
    "machine_info",
    "median_ci",
    "rejudge",
    "summarize",
    "write_atomic",
]


def judge_ratio(ci: Sequence[float] | None, threshold: float, *, parity: bool = False) -> str:
    """The verdict of a time ratio ``t(contender) / t(baseline)`` from its 95% interval.

    Target (``parity=False``, claim "ratio <= threshold"): ``holds`` when the whole
    interval lies below the threshold, ``parity`` when it contains the threshold,
    ``fails`` when it lies above. Parity check (``parity=True``, the contender runs the
    baseline's own kernel): ``parity`` when the interval lies inside ``[1/threshold,
    threshold]``, ``fails`` when it lies wholly outside that band, ``inconclusive`` when
    it crosses a bound. No interval (``ci is None``: too few rounds): ``inconclusive``.
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be a positive ratio, got {threshold}")
    if ci is None:
        return "inconclusive"
    lo, hi = float(ci[0]), float(ci[1])
    if lo > hi:
        raise ValueError(f"interval bounds out of order: {lo} > {hi}")
    if parity:
        band_lo, band_hi = sorted((1.0 / threshold, threshold))
        if band_lo <= lo and hi <= band_hi:
            return "parity"
        if lo > band_hi or hi < band_lo:
            return "fails"
        return "inconclusive"
    if hi < threshold:
        return "holds"
    if lo > threshold:
        return "fails"
    return "parity"


def cpu_model() -> str | None:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def load_statement(machine: Mapping[str, Any], threads: int | None) -> tuple[bool | None, str]:
    """``(shared, sentence)`` from the load averages measured at the start and the end of a run.

    The 1-minute load average counts runnable threads, this run's own included: the machine
    was *shared* when the larger of the two readings exceeds the run's torch threads (1 when
    unknown) by more than :data:`SHARED_MARGIN`. ``shared`` is None when no load was recorded.
    """
    start, end = machine.get("load_average_start"), machine.get("load_average")
    readings = [float(v[0]) for v in (start, end) if v]
    if not readings:
        return None, "Load not recorded: whether other jobs shared the machine is unknown."
    own = threads or 1
    peak = max(readings)
    cores = machine.get("cpu_affinity") or machine.get("cpu_count")
    span = f"{min(readings):.2f}–{peak:.2f}" if len(readings) > 1 else f"{peak:.2f}"
    tool = f"load average (1 min) {span} at the start and end, {own} torch thread(s)"
    if peak > own + SHARED_MARGIN:
        over = (
            f"; more runnable threads than the {cores} cores"
            if cores and peak > float(cores)
            else ""
        )
        return True, (
            f"Machine shared: {tool}: other jobs ran alongside{over}. Quote the ratios, "
            "not the absolute times."
        )
    return False, f"Machine quiet: {tool}: no other job to speak of."


_TYPED_LOAD = re.compile(
    r"[^.\n]*\b(?:machine|Machine)\b[^.\n]*\bshared\b[^.\n]*(?:\([^)]*\))?[^.\n]*\.?"
)


def _strip_typed_load(notes: str) -> str:
    """Drop sentences of the notes that *state* a shared machine (the harness measures it)."""
    return re.sub(r"[ \t]{2,}", " ", _TYPED_LOAD.sub("", notes)).replace(" \n", "\n")


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
        threshold: the target of the time ratio (None: no claim); see :func:`judge_ratio`.
        verdicts: one of :data:`VERDICTS` per non-baseline contender, from its paired
            ratio's 95% interval (empty with no threshold).
        warmup: untimed rounds run first.
        threads: ``torch.get_num_threads()`` during the run (None without torch).
        seed: seed of the per-round shuffling of the order.
        command: the shell command that reproduces the run.
        machine: see :func:`machine_info`.
        notes: free text put under the table (what each contender does).
        extra: free JSON-able data the benchmark adds (e.g. a correctness check).
        parity: the contenders run the baseline's own kernel: the threshold is a tolerance
            band ``[1/T, T]`` and the run is a parity check, never a win.
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
    parity: bool = False

    @property
    def rounds(self) -> int:
        """Timed rounds (every contender ran once per round)."""
        return len(self.orders)

    @property
    def passed(self) -> bool | None:
        """True when every verdict is a success (``holds`` for a target, ``parity`` for a parity
        check), False otherwise (a target at parity is not established), None without a
        threshold."""
        if self.threshold is None:
            return None
        success = "parity" if self.parity else "holds"
        return all(v == success for v in self.verdicts.values())

    @property
    def shared(self) -> bool | None:
        """Whether the measured load says other jobs shared the machine (:func:`load_statement`)."""
        return load_statement(self.machine, self.threads)[0]

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
                "check": "parity" if self.parity else "target",
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
            "machine_shared": self.shared,
            "raw": {"timings_s": self.timings, "orders": self.orders},
            "notes": self.notes,
            "extra": self.extra,
        }

    def to_markdown(self) -> str:
        """The results table with the verdict, the measured load and the reproducing command."""
        m = self.machine
        cpu = f" · {m['cpu_model']}" if m.get("cpu_model") else ""
        lines = [
            f"# Benchmark `{self.name}`",
            "",
            f"{m.get('date', '?')} · {m.get('platform', '?')} · {m.get('cpu_count', '?')} CPUs "
            f"(affinity {m.get('cpu_affinity', '?')}){cpu} · Python {m.get('python', '?')} · "
            f"torch {m.get('torch', '-')} · torch threads {self.threads} · "
            f"git {m.get('git', '?')} · load average (1 min) {_load(m, 'load_average_start')} "
            f"at the start, {_load(m, 'load_average')} at the end",
            "",
            load_statement(m, self.threads)[1],
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
                ci_text = f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else " (no interval)"
                paired = f"{self.paired_ratio[name]:.3f}{ci_text}"
                verdict = self.verdicts.get(name, "-")
                if verdict != "-":
                    verdict = f"**{verdict}** ({self._target_text()})"
            lines.append(
                f"| {name} | {st.median:.4f} | {st.iqr:.4f} | {st.min:.4f} | {st.rounds} | "
                f"{ratio} | {paired} | {verdict} |"
            )
        if self.threshold is not None:
            lines += ["", self._claim_text()]
        notes = _strip_typed_load(self.notes).strip()
        if notes:
            lines += ["", notes]
        lines += ["", "Reproduce:", "", "```sh", self.command, "```", ""]
        return "\n".join(lines)

    def _target_text(self) -> str:
        t = self.threshold
        return f"parity within {1 / t:.3g}–{t:.3g}" if self.parity else f"target ≤ {t:g}"

    def _claim_text(self) -> str:
        """The claim and how it was judged (the rule of :func:`judge_ratio`)."""
        t, base = self.threshold, self.baseline
        assert t is not None
        counts = {v: sum(1 for x in self.verdicts.values() if x == v) for v in VERDICTS}
        tally = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        if self.parity:
            head = (
                f"Parity check (the contender runs `{base}`'s own kernel, so this can show that "
                "the wrapper costs nothing, not a win): the time ratio's 95% interval must lie "
                f"inside {1 / t:.3g}–{t:.3g} (parity); wholly outside: fails; across a bound: "
                "inconclusive."
            )
        else:
            head = (
                f"Claim: time ratio ≤ {t:g} against `{base}`, judged on the paired ratio's 95% "
                f"interval: holds when the whole interval lies below {t:g}, parity when it "
                f"contains {t:g}, fails when it lies above."
            )
        few = (
            " Fewer than 6 rounds give no 95% interval: such a verdict is inconclusive."
            if any(ci is None for k, ci in self.paired_ratio_ci95.items() if k in self.verdicts)
            else ""
        )
        rejudged = self.extra.get("rejudged")
        again = f" Re-judged from stored samples ({rejudged})." if rejudged else ""
        return f"{head}{few} Verdicts: {tally} (one run, not retried).{again}"

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
            parity=settings.get("check") == "parity",
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


def rejudge(
    result: BenchResult, *, parity: bool | None = None, reason: str | None = None
) -> dict[str, tuple[str, str]]:
    """Re-derive ``result``'s verdicts from its stored intervals with :func:`judge_ratio`.

    ``parity`` (when given) first sets whether the run is a parity check. With a ``reason``,
    changed verdicts are recorded as ``extra["rejudged"]`` (the markdown then says
    "re-judged from stored samples"). Nothing is timed again. Returns ``{contender: (old,
    new)}`` for the verdicts that changed.
    """
    if parity is not None:
        result.parity = parity
    if result.threshold is None:
        return {}
    changed: dict[str, tuple[str, str]] = {}
    for k in result.stats:
        if k == result.baseline:
            continue
        new = judge_ratio(result.paired_ratio_ci95.get(k), result.threshold, parity=result.parity)
        old = result.verdicts.get(k, "-")
        if new != old:
            changed[k] = (old, new)
        result.verdicts[k] = new
    if changed and reason:
        result.extra["rejudged"] = reason
    return changed


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
    """Distribution-free confidence interval of the median (the sign-test interval of
    :func:`replearn.experiments.stats.median_interval`); None when ``n`` is too small
    (n < 6 for 95%)."""
    from replearn.experiments.stats import median_interval

    return median_interval(values, confidence)


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
    """Where and when the benchmark ran: CPUs and their model, platform, Python, torch and its
    threads, git, and the 1-minute load average now (1/5/15 min)."""
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model(),
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


def _time_once(c: Contender, collect: bool, timer: Callable[[], float]) -> float:
    if c.setup is not None:
        c.setup()
    if collect:
        gc.collect()  # start every call from the same heap state (untimed)
    t0 = timer()
    out = c.fn()
    elapsed = timer() - t0
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
    parity: bool = False,
    command: str | None = None,
    threads: int | None = 1,
    seed: int = 0,
    out_dir: str | os.PathLike[str] | None = RESULTS_DIR,
    notes: str = "",
    extra: Mapping[str, Any] | None = None,
    collect_garbage: bool = True,
    progress: Callable[[str], None] | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> BenchResult:
    """Time ``contenders`` interleaved in this process and summarise them against ``baseline``.

    Args:
        name: benchmark name; the results are ``<out_dir>/<name>.json`` and ``.md``.
        contenders: name -> zero-argument callable (or :class:`Contender` with untimed
            set-up / tear-down). Each round calls every contender once.
        rounds: timed rounds (>= 1; >= 6 for a 95% CI of the paired ratio).
        warmup: untimed rounds first (imports, allocator, caches, lazy initialisation).
        baseline: the contender ratios divide by (the peer); must be in ``contenders``.
        threshold: if given, the target of the time ratio (e.g. 1.05 for "overhead under
            5%"); each contender's verdict comes from its paired ratio's 95% interval
            (:func:`judge_ratio`): ``holds`` only when the whole interval lies below it.
        parity: the contenders run the baseline's own kernel (e.g. a fast path that calls
            torch's fused kernel, timed against torch): a parity check with the tolerance
            band ``[1/threshold, threshold]``, reported as parity, never as a win.
        command: the shell command that reproduces the run (default: this process's argv).
        threads: ``torch.set_num_threads`` for the run, restored after (None: leave it).
        seed: seed of the per-round shuffle of the order.
        out_dir: where to write the results (None: write nothing).
        notes: text put under the markdown table (say what each contender does).
        extra: JSON-able data stored under ``extra`` in the JSON (e.g. a correctness check).
        collect_garbage: run ``gc.collect()`` (untimed) before every timed call.
        progress: called with one line per round (e.g. ``print``); None: silent.
        timer: the clock read around each call (seconds); tests inject a scripted one.

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
    if parity and threshold is None:
        raise ValueError("a parity check needs a threshold (its tolerance band [1/T, T])")
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
                _time_once(cs[k], collect_garbage, timer)
            if progress:
                progress(f"warm-up {i + 1}/{warmup}")
        timings: dict[str, list[float]] = {k: [] for k in names}
        orders: list[list[str]] = []
        for r in range(rounds):
            order = names[:]
            rng.shuffle(order)
            for k in order:
                timings[k].append(_time_once(cs[k], collect_garbage, timer))
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
            verdicts[k] = judge_ratio(paired_ci[k], threshold, parity=parity)
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
        parity=parity,
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
