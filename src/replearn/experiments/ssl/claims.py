"""Claims of the ``ssl`` pretraining experiments and their verdicts.

Improvement claims pair variants by seed and use
:func:`replearn.experiments.stats.compare_seeds`: with :math:`d_s` the difference of seed s,
the one-sided 95% Student-t lower bound :math:`\\bar d - t_{0.95,S-1}\\,s_d/\\sqrt S` must be
above zero (the zero-shot claim: above 3x chance); fewer than 3 seeds give "not measured".
Collapse claims use the collapse monitor of the test embeddings: *collapsed* means the
per-dimension standard deviation of the normalized embeddings is below :data:`COLLAPSED_STD`
of its isotropic value (every seed), *not collapsed* that it is at or above it on every seed,
*dimensionally collapsed* an effective rank below half of the full method's (every seed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from replearn.experiments.base import Claim
from replearn.experiments.stats import MIN_SEEDS, compare_seeds

COLLAPSED_STD = 0.1
"""``embedding_std`` below this (1 = isotropic) counts as collapsed."""

# Reference numbers of the MNIST-1D authors' self-supervised notebook (Greydanus 2020).
MNIST1D_RAW_PROBE = 0.328
MNIST1D_SIMCLR_PROBE = 0.82
MNIST1D_NO_HEAD_PROBE = 0.534

PAPERS = {
    "simclr": "Chen, Kornblith, Norouzi & Hinton 2020, arXiv:2002.05709",
    "moco": "He, Fan, Wu, Xie & Girshick 2020, arXiv:1911.05722",
    "byol": "Grill et al. 2020, arXiv:2006.07733",
    "barlow": "Zbontar, Jing, Misra, LeCun & Deny 2021, arXiv:2103.03230",
    "dino": "Caron et al. 2021, arXiv:2104.14294",
    "clip": "Radford et al. 2021, arXiv:2103.00020",
    "ijepa": "Assran et al. 2023, arXiv:2301.08243",
    "rotation": "Gidaris, Singh & Komodakis 2018, arXiv:1803.07728",
    "jigsaw": "Noroozi & Favaro 2016, arXiv:1603.09246",
    "context": "Doersch, Gupta & Efros 2015, arXiv:1505.05192",
    "distill": "Hinton, Vinyals & Dean 2015, arXiv:1503.02531",
}


class _TooFewSeeds(Exception):
    """A seed comparison was asked of a run with fewer than :data:`MIN_SEEDS` seeds."""


def _seeds(values: Sequence[float]) -> list[float]:
    if len(values) < MIN_SEEDS:
        raise _TooFewSeeds(f"needs >= {MIN_SEEDS} seeds, ran {len(values)}")
    return list(values)


def _guard(
    verdict: Callable[[dict[str, Any]], tuple[bool, str]],
) -> Callable[..., tuple[bool, str]]:
    """A verdict that reports "not measured" when the run lacks the variants it compares, has
    fewer than :data:`MIN_SEEDS` seeds, or a non-finite per-seed value."""

    @functools.wraps(verdict)
    def checked(m: dict[str, Any]) -> tuple[bool, str]:
        try:
            return verdict(m)
        except (KeyError, IndexError) as err:
            return False, f"not measured: the run has no {err} (run with ablations=true)"
        except _TooFewSeeds as err:
            return False, f"not measured: {err}"
        except ValueError as err:  # compare_seeds: a non-finite per-seed value (a diverged run)
            return False, f"not measured: {err}"

    return checked


def _better(
    m: dict[str, Any], a: str, b: str, what: str, labels: tuple[str, str] | None = None
) -> tuple[bool, str]:
    la, lb = labels or (a, b)
    c = compare_seeds(_seeds(m[f"{a}_seeds"]), _seeds(m[f"{b}_seeds"]), label_x=la,
                      label_y=lb, unit="points")  # fmt: skip
    return c.holds, f"{what}: {100 * m[a]:.1f}% vs {100 * m[b]:.1f}%; {c.evidence()}"


def better(
    a: str, b: str, what: str, labels: tuple[str, str] | None = None
) -> Callable[[dict[str, Any]], tuple[bool, str]]:
    """The guarded verdict "metric ``a`` beats metric ``b``": ``compare_seeds`` over the paired
    seeds, lower bound above 0 (``what`` names the comparison in the evidence, ``labels`` the
    two variants; default: the metric names)."""

    @_guard
    def verdict(m: dict[str, Any]) -> tuple[bool, str]:
        return _better(m, a, b, what, labels)

    return verdict


@_guard
def ssl_beats_raw(m: dict[str, Any]) -> tuple[bool, str]:
    raw = [m["raw_linear_probe_accuracy"]] * len(m["linear_probe_accuracy_seeds"])
    holds, ev = _better(
        {**m, "raw_seeds": raw, "raw": raw[0]},
        "linear_probe_accuracy",
        "raw",
        "linear probe on SimCLR features vs raw inputs",
        ("SimCLR", "raw"),
    )
    return holds, ev + (
        f"; the MNIST-1D notebook's reference: raw {100 * MNIST1D_RAW_PROBE:.1f}%, SimCLR "
        f"{100 * MNIST1D_SIMCLR_PROBE:.0f}%"
    )


head_helps = better(
    "linear_probe_accuracy",
    "nohead_linear_probe_accuracy",
    "probe of the backbone trained with vs without projection head",
    ("head", "no head"),
)


@_guard
def low_label(m: dict[str, Any]) -> tuple[bool, str]:
    key = f"probe_{round(100 * m['low_label_fraction'])}pct_accuracy"
    return _better(
        m,
        key,
        "supervised_low_label_accuracy",
        f"{100 * m['low_label_fraction']:g}% of the labels: SSL + probe vs supervised from scratch",
        ("SSL + probe", "from scratch"),
    )


def _collapsed(m: dict[str, Any], prefix: str) -> bool:
    return all(s < COLLAPSED_STD for s in m[f"{prefix}embedding_std_seeds"])


def _not_collapsed(m: dict[str, Any], prefix: str) -> bool:
    return all(s >= COLLAPSED_STD for s in m[f"{prefix}embedding_std_seeds"])


def _monitor(m: dict[str, Any], names: Sequence[str]) -> str:
    return "; ".join(
        f"{n or 'full'}: embedding std {m[f'{n}_embedding_std' if n else 'embedding_std']:.3f}, "
        f"effective rank {m[f'{n}_effective_rank' if n else 'effective_rank']:.1f}, probe "
        f"{100 * m[f'{n}_linear_probe_accuracy' if n else 'linear_probe_accuracy']:.1f}%"
        for n in names
    )


@_guard
def byol_collapse(m: dict[str, Any]) -> tuple[bool, str]:
    holds = _not_collapsed(m, "") and _collapsed(m, "nopredictor_") and _collapsed(m, "noema_")
    return holds, _monitor(m, ("", "nopredictor", "noema")) + (
        f" (collapsed: std < {COLLAPSED_STD} on every seed)"
    )


@_guard
def barlow_dimensional(m: dict[str, Any]) -> tuple[bool, str]:
    full, abl = m["effective_rank_seeds"], m["noredundancy_effective_rank_seeds"]
    holds = all(a < 0.5 * f for a, f in zip(abl, full, strict=True))
    return holds, _monitor(m, ("", "noredundancy")) + (
        " (needs rank < half of the full method's on every seed)"
    )


@_guard
def dino_collapse(m: dict[str, Any]) -> tuple[bool, str]:
    holds = (
        _not_collapsed(m, "") and _collapsed(m, "nocentering_") and _collapsed(m, "nosharpening_")
    )
    return holds, _monitor(m, ("", "nocentering", "nosharpening")) + (
        f" (teacher outputs; collapsed: std < {COLLAPSED_STD} on every seed)"
    )


@_guard
def moco_negatives(m: dict[str, Any]) -> tuple[bool, str]:
    suffix = "_linear_probe_accuracy"
    runs = {
        int(k[5 : -len(suffix)]): (m[k], m[f"{k}_seeds"])
        for k in m
        if k.startswith("queue") and k[5:6].isdigit() and k.endswith(suffix)
    }
    runs[m["queue_size"]] = (m["linear_probe_accuracy"], m["linear_probe_accuracy_seeds"])
    sizes = sorted(runs)
    lo, mid, hi = sizes[0], sizes[len(sizes) // 2], sizes[-1]
    lo_s, mid_s, hi_s = (_seeds(runs[k][1]) for k in (lo, mid, hi))
    first = compare_seeds(mid_s, lo_s, label_x=f"K={mid}", label_y=f"K={lo}", unit="points")
    # "the gain small->middle exceeds the gain beyond": paired (mid - lo) vs (hi - mid)
    gains = compare_seeds(
        [m_ - l_ for m_, l_ in zip(mid_s, lo_s, strict=True)],
        [h_ - m_ for h_, m_ in zip(hi_s, mid_s, strict=True)],
        label_x="gain small->middle",
        label_y="gain middle->large",
        unit="points",
    )
    holds = len(sizes) >= 3 and first.holds and gains.holds
    accs = ", ".join(f"K={k}: {100 * runs[k][0]:.1f}%" for k in sizes)
    return holds, f"probe by queue size {accs}; {first.evidence()}; {gains.evidence()}"


moco_momentum = better(
    "linear_probe_accuracy",
    "nomomentum_linear_probe_accuracy",
    "probe with momentum key encoder (m = 0.99) vs without (m = 0)",
    ("momentum", "no momentum"),
)


ijepa_learns = better(
    "linear_probe_accuracy",
    "random_linear_probe_accuracy",
    "probe of the I-JEPA target encoder vs the same encoder untrained "
    "(latent prediction only, no pixel reconstruction)",
    ("I-JEPA", "untrained"),
)


@_guard
def clip_zero_shot(m: dict[str, Any]) -> tuple[bool, str]:
    accs = _seeds(m["zero_shot_accuracy_seeds"])
    chance = 0.1
    c = compare_seeds(accs, [3 * chance] * len(accs), label_x="zero-shot",
                      label_y="3x chance", unit="points")  # fmt: skip
    return c.holds, (
        f"zero-shot accuracy from prompts {100 * m['zero_shot_accuracy']:.1f}% vs chance "
        f"{100 * chance:.0f}%; {c.evidence()}; linear probe "
        f"{100 * m['linear_probe_accuracy']:.1f}%"
    )


gap_jitter = better(
    "linear_probe_accuracy",
    "nogap_linear_probe_accuracy",
    "probe after context prediction with vs without gap and jitter",
    ("gap + jitter", "no gap"),
)


CLAIMS: dict[str, tuple[Claim, ...]] = {
    "simclr": (
        Claim(
            "ssl-beats-raw",
            "Self-supervised (SimCLR) features beat raw inputs under a linear "
            "probe, over >= 3 pretraining seeds (MNIST-1D notebook: raw 32.8%, SimCLR about "
            "82%).",
            ssl_beats_raw,
            "probe.png",
        ),
        Claim(
            "projection-head-helps",
            "Removing the projection head hurts the probe of the last backbone layer "
            "(paired over >= 3 seeds, 95% lower bound of the difference above 0).",
            head_helps,
            "probe.png",
        ),
        Claim(
            "low-label",
            "With 1% of the labels, SSL pretraining + linear probe beats the same "
            "network trained from scratch on them (paired over >= 3 seeds).",
            low_label,
            None,
        ),
    ),
    "moco": (
        Claim(
            "negatives-up-to-a-point",
            "A larger negative set (MoCo queue) helps, up to a point: the middle queue beats "
            "the small one, and the gain from a small to a middle queue exceeds the gain "
            "beyond (each paired over >= 3 seeds, 95% lower bound above 0).",
            moco_negatives,
            "probe.png",
        ),
        Claim(
            "momentum-encoder",
            "MoCo's momentum key encoder beats a key encoder without momentum (m = 0), paired "
            "over >= 3 seeds.",
            moco_momentum,
            "probe.png",
        ),
    ),
    "byol": (
        Claim(
            "byol-ablations-collapse",
            "BYOL without its predictor, or without its EMA "
            "target, collapses (collapse monitor); full BYOL does not (every seed).",
            byol_collapse,
            "probe.png",
        ),
    ),
    "barlow": (
        Claim(
            "barlow-no-redundancy-collapses",
            "Barlow Twins without the redundancy term collapses dimensionally (effective rank "
            "below half of the full method's, every seed).",
            barlow_dimensional,
            "probe.png",
        ),
    ),
    "dino": (
        Claim(
            "dino-ablations-collapse",
            "DINO without centring, or without sharpening, collapses; with both it does not "
            "(every seed).",
            dino_collapse,
            "probe.png",
        ),
    ),
    "clip": (
        Claim(
            "clip-zero-shot",
            "CLIP classifies test images zero-shot from class-name prompts "
            "alone, far above chance (> 3x; 95% lower bound over >= 3 seeds).",
            clip_zero_shot,
            None,
        ),
    ),
    "ijepa": (
        Claim(
            "ijepa-learns",
            "I-JEPA learns useful features without pixel reconstruction: "
            "its probe beats the untrained encoder's (paired over >= 3 seeds).",
            ijepa_learns,
            "probe.png",
        ),
    ),
    "context": (
        Claim(
            "gap-jitter-helps",
            "Gaps and jitter between the patches stop context "
            "prediction from using low-level shortcuts: the probe improves with them (paired "
            "over >= 3 seeds).",
            gap_jitter,
            "probe.png",
        ),
    ),
}
