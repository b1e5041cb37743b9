"""Loading Hugging Face ``transformers`` BERT, RoBERTa and ALBERT models (``from_hf`` oracles).

:func:`bert_from_hf` reads the configuration of a ``BertModel``, ``BertForPreTraining``,
``BertForMaskedLM``, ``BertForSequenceClassification``, ``RobertaModel`` or
``RobertaForMaskedLM``, builds the same :class:`~replearn.transformer.bert.BERT` and copies every
tensor; :func:`albert_from_hf` does the same for ``AlbertModel`` / ``AlbertForMaskedLM`` /
``AlbertForPreTraining`` into :class:`~replearn.transformer.bert.ALBERT`. Each of our
state-dict keys is turned into theirs by :func:`hf_key`; loading is strict both ways (every
tensor of ours found with the same shape, every tensor of theirs used, the tied decoder weights
checked equal to the embedding and the output bias). Nothing here imports ``transformers``.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import Tensor, nn

from replearn.transformer.bert.model import BERT

__all__ = ["albert_from_hf", "bert_from_hf", "hf_key", "load_mapped"]

_QKV = {  # our fused projection -> its three parts (BERT/RoBERTa, ALBERT), in row order
    "qkv": (
        ("attention.self.query", "attention.self.key", "attention.self.value"),
        ("attention.query", "attention.key", "attention.value"),
    ),
}
_LAYER = {  # our EncoderLayer names -> (BERT/RoBERTa, ALBERT) names inside one layer
    "o": ("attention.output.dense", "attention.dense"),
    "attn_norm": ("attention.output.LayerNorm", "attention.LayerNorm"),
    "ff1": ("intermediate.dense", "ffn"),
    "ff2": ("output.dense", "ffn_output"),
    "ff_norm": ("output.LayerNorm", "full_layer_layer_norm"),
}
_EMB = {
    "tok_emb": "word_embeddings",
    "pos_emb": "position_embeddings",
    "seg_emb": "token_type_embeddings",
    "emb_norm": "LayerNorm",
}


def hf_key(ours: str, *, family: str, prefix: str) -> str | tuple[str, ...]:
    """The ``transformers`` state-dict key of our tensor ``ours``.

    Our fused ``qkv`` projection maps to a tuple of three keys (query, key, value) whose tensors,
    concatenated along dim 0, give ours.

    Args:
        ours: e.g. ``"layers.3.ff1.weight"`` (BERT) or ``"layer.ff1.weight"`` (ALBERT).
        family: ``"bert"``, ``"roberta"`` or ``"albert"``.
        prefix: the backbone prefix in their model (``"bert."``, ``"roberta."``, ``""`` ...).
    """
    name, _, leaf = ours.rpartition(".")
    col = 1 if family == "albert" else 0
    where = None
    if m := re.fullmatch(r"layers\.(\d+)\.(\w+)", name):
        where, part = f"{prefix}encoder.layer.{m[1]}.", m[2]
    elif m := re.fullmatch(r"layer\.(\w+)", name):  # ALBERT's one shared layer
        where, part = f"{prefix}encoder.albert_layer_groups.0.albert_layers.0.", m[1]
    if where is not None:
        if part in _QKV:
            return tuple(f"{where}{n}.{leaf}" for n in _QKV[part][col])
        return f"{where}{_LAYER[part][col]}.{leaf}"
    if name in _EMB:
        return f"{prefix}embeddings.{_EMB[name]}.{leaf}"
    head = {"bert": "cls.predictions.", "roberta": "lm_head.", "albert": "predictions."}[family]
    norm = {"bert": "transform.LayerNorm", "roberta": "layer_norm", "albert": "LayerNorm"}[family]
    dense = "transform.dense" if family == "bert" else "dense"
    table = {
        "emb_proj": f"{prefix}encoder.embedding_hidden_mapping_in",
        "pooler": f"{prefix}pooler" + ("" if family == "albert" else ".dense"),
        "mlm_dense": head + dense,
        "mlm_norm": head + norm,
        "nsp": "sop_classifier.classifier" if family == "albert" else "cls.seq_relationship",
        "classifier": "classifier",
    }
    if ours == "mlm_bias":
        return head + "bias"
    if name not in table:
        raise KeyError(f"no transformers counterpart for {ours!r}")
    return f"{table[name]}.{leaf}"


def load_mapped(model: nn.Module, theirs: dict[str, Tensor], key: Any) -> None:
    """Copy ``theirs[key(k)]`` into every tensor ``k`` of ``model``; strict both ways.

    A tuple of keys (our fused Q/K/V projection) is concatenated along dim 0. Their decoder
    weights tied to the embedding (``*.decoder.weight`` / ``*.decoder.bias``) are not copied but
    checked equal to the tensors they are tied to.
    """
    ours = model.state_dict()
    used: set[str] = set()
    with torch.no_grad():
        for k, t in ours.items():
            names = key(k) if isinstance(key(k), tuple) else (key(k),)
            parts = [theirs.get(n) for n in names]
            src = None if any(p is None for p in parts) else torch.cat(parts)  # type: ignore[arg-type]
            if src is None or src.shape != t.shape:
                got = None if src is None else tuple(src.shape)
                raise ValueError(f"{k} -> {key(k)}: missing or shape {got} != {tuple(t.shape)}")
            t.copy_(src)
            used.update(names)
    tied = {k for k in theirs if k.endswith(("decoder.weight", "decoder.bias"))}
    for k in tied:
        target = key("tok_emb.weight") if k.endswith("weight") else key("mlm_bias")
        if not torch.equal(theirs[k], theirs[target]):
            raise ValueError(f"{k} is not tied to {target}; untied decoders are not supported")
    unused = set(theirs) - used - tied
    if unused:
        raise ValueError(f"tensors of the transformers model not used: {sorted(unused)[:5]}")


def _parts(hf_model: nn.Module, family: str) -> tuple[Any, dict[str, Tensor], str, set[str]]:
    """Config, state dict, backbone prefix and the top-level module names of ``hf_model``."""
    sd = hf_model.state_dict()
    prefix = f"{family}." if any(k.startswith(f"{family}.") for k in sd) else ""
    return hf_model.config, sd, prefix, {n for n, _ in hf_model.named_children()}


def _check_act(cfg: Any) -> str:
    if cfg.hidden_act not in ("gelu", "gelu_new"):
        raise ValueError(f"hidden_act {cfg.hidden_act!r} unsupported (gelu or gelu_new)")
    return str(cfg.hidden_act)


def _encoder_kwargs(cfg: Any) -> dict[str, Any]:
    """The encoder settings BERT, RoBERTa and ALBERT share, from a ``transformers`` config."""
    pad = getattr(cfg, "pad_token_id", None)
    return dict(
        vocab_size=cfg.vocab_size,
        hidden=cfg.hidden_size,
        layers=cfg.num_hidden_layers,
        heads=cfg.num_attention_heads,
        intermediate=cfg.intermediate_size,
        max_len=cfg.max_position_embeddings,
        type_vocab_size=cfg.type_vocab_size,
        dropout=cfg.hidden_dropout_prob,
        attn_dropout=cfg.attention_probs_dropout_prob,
        eps=cfg.layer_norm_eps,
        act=_check_act(cfg),
        pad_id=pad if pad is not None else 0,
    )


def bert_from_hf(hf_model: nn.Module) -> BERT:
    """:class:`BERT` with the config and every tensor of a ``transformers`` BERT/RoBERTa model.

    The train/eval mode is copied. RoBERTa (``config.model_type == "roberta"``) gets
    ``positions="roberta"`` and ``pad_id = config.pad_token_id``.
    """
    cfg = hf_model.config
    family = cfg.model_type
    if family not in ("bert", "roberta"):
        raise ValueError(f"expected a BERT or RoBERTa model, got model_type {family!r}")
    cfg, sd, prefix, children = _parts(hf_model, family)
    has = lambda part: any(k.startswith(prefix + part) or k.startswith(part) for k in sd)  # noqa: E731
    if "classifier" in children and family == "roberta":
        raise ValueError("RoBERTa's classification head (dense, tanh, out_proj) is not supported")
    model = BERT(
        **_encoder_kwargs(cfg),
        positions="roberta" if family == "roberta" else "absolute",
        pooler=has("pooler."),
        mlm_head=has("cls.predictions.") or has("lm_head."),
        nsp_head=has("cls.seq_relationship."),
        num_labels=sd["classifier.weight"].shape[0] if "classifier.weight" in sd else 0,
    )
    load_mapped(model, sd, lambda k: hf_key(k, family=family, prefix=prefix))
    return model.train(hf_model.training)


def albert_from_hf(hf_model: nn.Module) -> nn.Module:
    """:class:`~replearn.transformer.bert.ALBERT` from a ``transformers`` ALBERT model.

    Only the paper's all-shared layout (``num_hidden_groups == inner_group_num == 1``).
    """
    from replearn.transformer.bert.albert import ALBERT

    cfg, sd, prefix, _ = _parts(hf_model, "albert")
    if cfg.model_type != "albert" or cfg.num_hidden_groups != 1 or cfg.inner_group_num != 1:
        raise ValueError("expected an ALBERT model with one shared layer group of one layer")
    model = ALBERT(
        **_encoder_kwargs(cfg),
        embedding=cfg.embedding_size,
        pooler=f"{prefix}pooler.weight" in sd,
        mlm_head="predictions.bias" in sd,
        sop_head="sop_classifier.classifier.weight" in sd,
    )
    load_mapped(model, sd, lambda k: hf_key(k, family="albert", prefix=prefix))
    return model.train(hf_model.training)
