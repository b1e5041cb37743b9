r"""Text augmentation on token ids: word dropout, random swap and synonym replacement.

Papers: M. Iyyer, V. Manjunatha, J. Boyd-Graber & H. Daumé III, "Deep Unordered
Composition Rivals Syntactic Methods for Text Classification", ACL 2015 (word dropout);
J. Wei & K. Zou, "EDA: Easy Data Augmentation Techniques for Boosting Performance on Text
Classification Tasks", EMNLP 2019, arXiv:1901.11196 (synonym replacement, random swap,
random deletion).

On a padded batch of token ids :math:`x \in \mathbb N^{B \times T}` with lengths
:math:`\ell_b` (padding id 0 after each sentence):

* **word dropout** (EDA's random deletion): each real token is kept with probability
  :math:`1 - p`, independently; kept tokens keep their order and move to the front
  (a sentence never loses every token: if all are dropped, its first token is kept)  (1)
* **random swap**: :math:`n` times, two random positions :math:`i, j < \ell_b` of each
  sentence exchange their tokens                                                       (2)
* **synonym replacement**: each real token :math:`w` that has synonyms is replaced, with
  probability :math:`p`, by one of them drawn uniformly:
  :math:`x_{bt} \leftarrow s_{w, u}`, :math:`u \sim \mathcal U\{1..|S(w)|\}`           (3)

Deviations: EDA draws synonyms from WordNet; WordNet is not a dependency here, so
:data:`SYNONYMS` is a small embedded table of common sentiment-bearing and film words
(each group's words are mutual synonyms, polarity preserved), and :func:`synonym_table`
maps a vocabulary onto it. EDA fixes the *number* of changed words per sentence
(:math:`\alpha \ell`); (1) and (3) draw each word independently with the same expected
fraction. Tests: the kept tokens are a subsequence of the sentence and their fraction
matches :math:`1 - p` (binomial bound); swap preserves every sentence's multiset; replaced
words are synonyms from the table; padding never changes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from replearn.registry import register

__all__ = ["SYNONYMS", "random_swap", "synonym_replace", "synonym_table", "word_dropout"]

SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("good", "fine", "nice", "decent", "solid"),
    ("great", "excellent", "terrific", "superb", "wonderful", "marvelous"),
    ("bad", "poor", "lousy", "awful", "terrible", "dreadful"),
    ("boring", "dull", "tedious", "tiresome", "monotonous"),
    ("funny", "amusing", "hilarious", "comic", "witty"),
    ("beautiful", "lovely", "gorgeous", "stunning"),
    ("stupid", "dumb", "silly", "foolish", "idiotic"),
    ("interesting", "intriguing", "engaging", "compelling", "absorbing"),
    ("movie", "film", "picture"),
    ("story", "plot", "tale", "narrative"),
    ("actor", "performer", "player"),
    ("director", "filmmaker"),
    ("funny", "humorous"),
    ("smart", "clever", "intelligent", "bright"),
    ("mess", "shambles", "muddle"),
    ("fun", "enjoyable", "entertaining", "pleasant"),
    ("weak", "feeble", "flimsy", "thin"),
    ("strong", "powerful", "forceful", "potent"),
    ("sad", "unhappy", "sorrowful", "melancholy"),
    ("big", "large", "huge"),
    ("small", "little", "tiny", "modest"),
    ("very", "really", "truly", "extremely"),
    ("often", "frequently"),
    ("quickly", "rapidly", "swiftly"),
    ("slow", "sluggish", "plodding"),
    ("worst", "poorest"),
    ("best", "finest"),
)
"""Groups of mutual synonyms (the embedded stand-in for WordNet; see the deviations)."""


def _check(ids: Tensor, lengths: Tensor) -> None:
    if ids.dim() != 2 or lengths.shape != ids.shape[:1]:
        raise ValueError(
            f"need ids (B, T) and lengths (B,), got {tuple(ids.shape)}, {lengths.shape}"
        )


@register(
    "regularize.word_dropout",
    paper="Iyyer et al. 2015 (word dropout); Wei & Zou 2019, arXiv:1901.11196 (random deletion)",
    reference="properties: kept tokens form an ordered subsequence, kept fraction ~ 1 - p "
    "(binomial bound), padding untouched",
)
def word_dropout(
    ids: Tensor, lengths: Tensor, p: float, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Eq. (1): drop each real token with probability ``p``; kept tokens move to the front.

    Shape:
        ids (B, T) int64 (0 = padding), lengths (B,) -> ids (B, T), new lengths (B,).
    """
    _check(ids, lengths)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p must be in [0, 1), got {p}")
    b, t = ids.shape
    pos = torch.arange(t, device=ids.device).expand(b, t)  # (B, T)
    real = pos < lengths[:, None]
    keep = real & (torch.rand(b, t, generator=generator, device=ids.device) >= p)
    keep[:, 0] |= real[:, 0] & ~keep.any(dim=1)  # never empty a sentence
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)  # kept first, in order
    out = torch.where(keep, ids, torch.zeros_like(ids)).gather(1, order)
    return out, keep.sum(dim=1)


def random_swap(
    ids: Tensor, lengths: Tensor, n: int, generator: torch.Generator | None = None
) -> Tensor:
    """Eq. (2): ``n`` swaps of two random real positions per sentence.

    Shape:
        ids (B, T), lengths (B,) -> (B, T).
    """
    _check(ids, lengths)
    out, rows = ids.clone(), torch.arange(ids.shape[0], device=ids.device)
    for _ in range(n):
        i = (torch.rand(len(rows), generator=generator, device=ids.device) * lengths).long()
        j = (torch.rand(len(rows), generator=generator, device=ids.device) * lengths).long()
        a, c = out[rows, i].clone(), out[rows, j].clone()
        out[rows, i], out[rows, j] = c, a
    return out


def synonym_table(itos: list[str], groups: tuple[tuple[str, ...], ...] = SYNONYMS) -> Tensor:
    """Synonym ids per word id: (V, S) int64, row ``w`` = its synonyms padded with ``-1``.

    A word in several groups gets the union; words outside the vocabulary are skipped.
    """
    stoi = {w: i for i, w in enumerate(itos)}
    syn: dict[int, set[int]] = {}
    for group in groups:
        present = [stoi[w] for w in group if w in stoi]
        for w in present:
            syn.setdefault(w, set()).update(x for x in present if x != w)
    width = max((len(s) for s in syn.values()), default=1) or 1
    table = torch.full((len(itos), width), -1, dtype=torch.int64)
    for w, s in syn.items():
        table[w, : len(s)] = torch.tensor(sorted(s))
    return table


@register(
    "regularize.synonym_replace",
    paper="Wei & Zou 2019, arXiv:1901.11196 (EDA synonym replacement)",
    reference="properties: replacements come from the synonym table, rate ~ p among words with "
    "synonyms (binomial bound), other words and padding untouched",
)
def synonym_replace(
    ids: Tensor, table: Tensor, p: float, generator: torch.Generator | None = None
) -> Tensor:
    """Eq. (3): replace each word that has synonyms by a random one with probability ``p``.

    Shape:
        ids (B, T), table (V, S) from :func:`synonym_table` -> (B, T).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    cands = table[ids]  # (B, T, S)
    count = (cands >= 0).sum(-1)  # (B, T)
    u = torch.rand(ids.shape, generator=generator, device=ids.device)
    pick = (torch.rand(ids.shape, generator=generator, device=ids.device) * count).long()
    choice = cands.gather(-1, pick.clamp(max=cands.shape[-1] - 1)[..., None])[..., 0]  # (B, T)
    return torch.where((count > 0) & (u < p), choice, ids)
