"""Claims of the ``ssl`` pretraining experiments and their verdicts.

Improvement claims pair variants by seed: with :math:`d_s` the difference of seed s, the
verdict needs :math:`\\bar d > 2\\,\\mathrm{SE}` with :math:`\\mathrm{SE} = s_d / \\sqrt n`
(one seed gives no standard error and never holds). Collapse claims use the collapse monitor
of the test embeddings: *collapsed* means the per-dimension standard deviation of the
normalized embeddings is below :data:`COLLAPSED_STD` of its isotropic value (all seeds),
*dimensionally collapsed* means an effective rank below half of the full method's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from replearn.experiments.base import Claim
from replearn.experiments.stats import mean_se, paired_difference

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


def _guard(
    verdict: Callable[[dict[str, Any]], tuple[bool, str]],
) -> Callable[..., tuple[bool, str]]:
    """A verdict that reports "not measured" when the run lacks the variants it compares."""

    @functools.wraps(verdict)
    def checked(m: dict[str, Any]) -> tuple[bool, str]:
        try:
            return verdict(m)
        except (KeyError, IndexError) as err:
            return False, f"not measured: the run has no {err} (run with ablations=true)"

    return checked


def _better(m: dict[str, Any], a: str, b: str, what: str) -> tuple[bool, str]:
    diff, se = paired_difference(m[f"{a}_seeds"], m[f"{b}_seeds"])
    holds = diff > 2 * se
    return holds, (
        f"{what}: {100 * m[a]:.1f}% vs {100 * m[b]:.1f}% (means over {len(m[f'{a}_seeds'])} "
        f"seeds); paired difference {100 * diff:+.2f} points, SE {100 * se:.2f} (needs > 2 SE)"
    )


def better(a: str, b: str, what: str) -> Callable[[dict[str, Any]], tuple[bool, str]]:
    """The guarded verdict "metric ``a`` beats metric ``b``": their paired difference over seeds
    exceeds 2 SE (``what`` names the comparison in the evidence)."""

    @_guard
    def verdict(m: dict[str, Any]) -> tuple[bool, str]:
        return _better(m, a, b, what)

    return verdict


@_guard
def ssl_beats_raw(m: dict[str, Any]) -> tuple[bool, str]:
    raw = [m["raw_linear_probe_accuracy"]] * len(m["linear_probe_accuracy_seeds"])
    holds, ev = _better(
        {**m, "raw_seeds": raw, "raw": raw[0]},
        "linear_probe_accuracy",
        "raw",
        "linear probe on SimCLR features vs raw inputs",
    )
    return holds, ev + (
        f"; the MNIST-1D notebook's reference: raw {100 * MNIST1D_RAW_PROBE:.1f}%, SimCLR "
        f"{100 * MNIST1D_SIMCLR_PROBE:.0f}%"
    )


head_helps = better(
    "linear_probe_accuracy",
    "nohead_linear_probe_accuracy",
    "probe of the backbone trained with vs without projection head",
)


@_guard
def low_label(m: dict[str, Any]) -> tuple[bool, str]:
    key = f"probe_{round(100 * m['low_label_fraction'])}pct_accuracy"
    return _better(
        m,
        key,
        "supervised_low_label_accuracy",
        f"{100 * m['low_label_fraction']:g}% of the labels: SSL + probe vs supervised from scratch",
    )


def _collapsed(m: dict[str, Any], prefix: str) -> bool:
    return all(s < COLLAPSED_STD for s in m[f"{prefix}embedding_std_seeds"])


def _monitor(m: dict[str, Any], names: Sequence[str]) -> str:
    return "; ".join(
        f"{n or 'full'}: embedding std {m[f'{n}_embedding_std' if n else 'embedding_std']:.3f}, "
        f"effective rank {m[f'{n}_effective_rank' if n else 'effective_rank']:.1f}, probe "
        f"{100 * m[f'{n}_linear_probe_accuracy' if n else 'linear_probe_accuracy']:.1f}%"
        for n in names
    )


@_guard
def byol_collapse(m: dict[str, Any]) -> tuple[bool, str]:
    holds = not _collapsed(m, "") and _collapsed(m, "nopredictor_") and _collapsed(m, "noema_")
    return holds, _monitor(m, ("", "nopredictor", "noema")) + f" (collapsed: std < {COLLAPSED_STD})"


@_guard
def barlow_dimensional(m: dict[str, Any]) -> tuple[bool, str]:
    full, abl = m["effective_rank_seeds"], m["noredundancy_effective_rank_seeds"]
    holds = all(a < 0.5 * f for a, f in zip(abl, full, strict=True))
    return holds, _monitor(m, ("", "noredundancy")) + " (needs rank < half of the full method's)"


@_guard
def dino_collapse(m: dict[str, Any]) -> tuple[bool, str]:
    holds = (
        not _collapsed(m, "") and _collapsed(m, "nocentering_") and _collapsed(m, "nosharpening_")
    )
    return holds, _monitor(m, ("", "nocentering", "nosharpening")) + (
        f" (teacher outputs; collapsed: std < {COLLAPSED_STD})"
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
    d1, se1 = paired_difference(runs[mid][1], runs[lo][1])
    d2, _ = paired_difference(runs[hi][1], runs[mid][1])
    holds = len(sizes) >= 3 and d1 > 2 * se1 and d2 < d1
    accs = ", ".join(f"K={k}: {100 * runs[k][0]:.1f}%" for k in sizes)
    return holds, (
        f"probe by queue size {accs}; gain small->middle {100 * d1:+.2f} points (SE "
        f"{100 * se1:.2f}, needs > 2 SE), middle->large {100 * d2:+.2f} (needs less)"
    )


moco_momentum = better(
    "linear_probe_accuracy",
    "nomomentum_linear_probe_accuracy",
    "probe with momentum key encoder (m = 0.99) vs without (m = 0)",
)


ijepa_learns = better(
    "linear_probe_accuracy",
    "random_linear_probe_accuracy",
    "probe of the I-JEPA target encoder vs the same encoder untrained "
    "(latent prediction only, no pixel reconstruction)",
)


@_guard
def clip_zero_shot(m: dict[str, Any]) -> tuple[bool, str]:
    accs = m["zero_shot_accuracy_seeds"]
    chance = 0.1
    mean, se = mean_se(accs)
    holds = mean - 2 * se > 3 * chance
    return holds, (
        f"zero-shot accuracy from prompts {100 * mean:.1f}% (SE {100 * se:.2f}, {len(accs)} "
        f"seeds) vs chance {100 * chance:.0f}% (needs mean - 2 SE > 3x chance); linear probe "
        f"{100 * m['linear_probe_accuracy']:.1f}%"
    )


gap_jitter = better(
    "linear_probe_accuracy",
    "nogap_linear_probe_accuracy",
    "probe after context prediction with vs without gap and jitter",
)


CLAIMS: dict[str, tuple[Claim, ...]] = {
    "simclr": (
        Claim(
            "ssl-beats-raw",
            "Self-supervised (SimCLR) features beat raw inputs under a linear "
            "probe (MNIST-1D notebook: raw 32.8%, SimCLR about 82%).",
            ssl_beats_raw,
            "probe.png",
        ),
        Claim(
            "projection-head-helps",
            "Removing the projection head hurts the probe of the last backbone layer.",
            head_helps,
            "probe.png",
        ),
        Claim(
            "low-label",
            "With 1% of the labels, SSL pretraining + linear probe beats the same "
            "network trained from scratch on them.",
            low_label,
            None,
        ),
    ),
    "moco": (
        Claim(
            "negatives-up-to-a-point",
            "A larger negative set (MoCo queue) helps, up to a point: "
            "the gain from a small to a middle queue exceeds the gain beyond.",
            moco_negatives,
            "probe.png",
        ),
        Claim(
            "momentum-encoder",
            "MoCo's momentum key encoder beats a key encoder without momentum (m = 0).",
            moco_momentum,
            "probe.png",
        ),
    ),
    "byol": (
        Claim(
            "byol-ablations-collapse",
            "BYOL without its predictor, or without its EMA "
            "target, collapses (collapse monitor); full BYOL does not.",
            byol_collapse,
            "probe.png",
        ),
    ),
    "barlow": (
        Claim(
            "barlow-no-redundancy-collapses",
            "Barlow Twins without the redundancy term "
            "collapses dimensionally (effective rank below half of the full method's).",
            barlow_dimensional,
            "probe.png",
        ),
    ),
    "dino": (
        Claim(
            "dino-ablations-collapse",
            "DINO without centring, or without sharpening, collapses; with both it does not.",
            dino_collapse,
            "probe.png",
        ),
    ),
    "clip": (
        Claim(
            "clip-zero-shot",
            "CLIP classifies test images zero-shot from class-name prompts "
            "alone, far above chance (> 3x).",
            clip_zero_shot,
            None,
        ),
    ),
    "ijepa": (
        Claim(
            "ijepa-learns",
            "I-JEPA learns useful features without pixel reconstruction: "
            "its probe beats the untrained encoder's.",
            ijepa_learns,
            "probe.png",
        ),
    ),
    "context": (
        Claim(
            "gap-jitter-helps",
            "Gaps and jitter between the patches stop context "
            "prediction from using low-level shortcuts: the probe improves with them.",
            gap_jitter,
            "probe.png",
        ),
    ),
}
