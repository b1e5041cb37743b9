"""Loading Hugging Face ``transformers`` vision models into replearn's CNNs (``from_hf`` oracles).

``ResNet.from_hf``, ``ConvNeXt.from_hf`` and ``EfficientNet.from_hf`` read the configuration of
a ``transformers`` model (``XModel`` or ``XForImageClassification``), build the same network
here, and copy every tensor across by a short table of renaming rules: regular expressions
that turn one of *our* state-dict keys into the key of the same tensor in *theirs*. Loading is
strict both ways: every tensor of ours is found, with the same shape, and every tensor of theirs
is used. The tests then compare the outputs of the two networks (atol 1e-5, float32). The models'
``from_hf`` classmethods call the ``*_from_hf`` functions here, so that the model files hold
the methods only and every Hugging Face naming detail lives in this one file.

Where the ``transformers`` implementation departs from the papers, the built network mirrors
it, so that the outputs agree: in ResNet the activations inside a residual branch are always
ReLU (``hidden_act`` acts in the stem and after each sum only); in EfficientNet the first block
of a stage never adds its input back, the strided convolutions use the fixed TensorFlow padding
of the checkpoints (``tf_padding=True``), and the blocks listed in ``depthwise_padding`` pad
symmetrically.

Nothing here imports ``transformers``: the helpers only read attributes of the model given, so
the package does not depend on it (the tests do, and build their models locally from small
random configurations; nothing is ever downloaded).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from torch import Tensor, nn

from replearn.cnn.convnext import ConvNeXt
from replearn.cnn.efficientnet import EfficientNet, StageSpec, round_filters
from replearn.cnn.resnet import Bottleneck, ResNet

__all__ = [
    "CONVNEXT_RULES", "EFFICIENTNET_RULES", "RESNET_RULES", "Rule", "activation",
    "convnext_from_hf", "efficientnet_from_hf", "load_renamed", "rename", "resnet_from_hf",
    "split_hf_model",
]  # fmt: skip

Rule = tuple[str, str | Callable[[re.Match[str]], str]]
"""A renaming rule: ``(pattern, replacement)`` as given to :func:`re.sub`."""

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "gelu_new": partial(nn.GELU, approximate="tanh"),
    "gelu_pytorch_tanh": partial(nn.GELU, approximate="tanh"),
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def activation(name: str) -> Callable[[], nn.Module]:
    """The ``torch.nn`` activation class for a ``transformers`` ``hidden_act`` name.

    Args:
        name: e.g. ``"relu"``, ``"gelu"``, ``"swish"``.

    Raises:
        ValueError: for a name without an exact ``torch.nn`` equivalent here.
    """
    if not isinstance(name, str) or name not in _ACTIVATIONS:
        raise ValueError(
            f"unsupported hidden_act {name!r}; supported: {', '.join(sorted(_ACTIVATIONS))}"
        )
    return _ACTIVATIONS[name]


def split_hf_model(hf_model: nn.Module) -> tuple[Any, dict[str, Tensor], int]:
    """Config, backbone tensors and number of classes of an ``XModel`` or ``X...Classification``.

    The backbone's state dict is returned with its own keys (no ``resnet.`` prefix); a
    classification head's ``nn.Linear`` is added under ``classifier.weight`` and
    ``classifier.bias``. A model without a head, or whose head is ``nn.Identity``
    (``num_labels=0``), has 0 classes.

    Args:
        hf_model: a ``transformers`` model instance.

    Returns:
        ``(config, state, num_classes)``.
    """
    config = getattr(hf_model, "config", None)
    prefix = getattr(hf_model, "base_model_prefix", None)
    if config is None or prefix is None:
        raise TypeError(f"expected a transformers model, got {type(hf_model).__name__}")
    backbone = getattr(hf_model, prefix, None)
    if not isinstance(backbone, nn.Module):  # the bare XModel
        return config, dict(hf_model.state_dict()), 0
    state = dict(backbone.state_dict())
    head = getattr(hf_model, "classifier", None)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)] if head is not None else []
    if len(linears) > 1:
        raise ValueError(f"expected one nn.Linear in the classifier, found {len(linears)}")
    if not linears:
        return config, state, 0
    state["classifier.weight"] = linears[0].weight
    if linears[0].bias is not None:
        state["classifier.bias"] = linears[0].bias
    return config, state, linears[0].out_features


def rename(key: str, rules: Sequence[Rule]) -> str:
    """Apply every rule, in order, to one of our state-dict keys (:func:`re.sub` each)."""
    for pattern, replacement in rules:
        key = re.sub(pattern, replacement, key)
    return key


def load_renamed(
    model: nn.Module,
    hf_state: dict[str, Tensor],
    rules: Sequence[Rule] = (),
    *,
    key_map: Callable[[str], str] | None = None,
) -> None:
    """Copy ``hf_state`` into ``model``; every key of ours is renamed to theirs by ``rules``.

    Args:
        model: the freshly built replearn network.
        hf_state: the tensors of the ``transformers`` model (see :func:`split_hf_model`).
        rules: renaming rules applied to each key of ``model.state_dict()``.
        key_map: optional function applied to the key before the rules (for renamings a
            regular expression cannot express, such as EfficientNet's stage -> block index).

    Raises:
        KeyError: a tensor of ours has no counterpart.
        ValueError: shapes differ, or tensors of theirs were left unused.
    """
    ours = model.state_dict()
    loaded: dict[str, Tensor] = {}
    used: set[str] = set()
    for key, value in ours.items():
        theirs = rename(key_map(key) if key_map else key, rules)
        if theirs not in hf_state:
            raise KeyError(f"{key!r} -> {theirs!r} is not in the Hugging Face model")
        source = hf_state[theirs]
        if source.shape != value.shape:
            raise ValueError(
                f"{key!r} has shape {tuple(value.shape)} but {theirs!r} has {tuple(source.shape)}"
            )
        loaded[key] = source.detach().clone()
        used.add(theirs)
    unused = sorted(set(hf_state) - used)
    if unused:
        raise ValueError(f"Hugging Face tensors left unused: {', '.join(unused[:8])}")
    model.load_state_dict(loaded, strict=True)


# ---------------------------------------------------------------------------------------------
# ResNet: ResNetModel / ResNetForImageClassification

RESNET_RULES: list[Rule] = [
    (r"^stem\.conv\.", "embedder.embedder.convolution."),
    (r"^stem\.bn\.", "embedder.embedder.normalization."),
    (r"^stages\.(\d+)\.(\d+)\.", r"encoder.stages.\1.layers.\2."),
    (r"\.conv(\d)\.", lambda m: f".layer.{int(m[1]) - 1}.convolution."),
    (r"\.bn(\d)\.", lambda m: f".layer.{int(m[1]) - 1}.normalization."),
    (r"\.shortcut\.conv\.", ".shortcut.convolution."),
    (r"\.shortcut\.bn\.", ".shortcut.normalization."),
    (r"^fc\.", "classifier."),
]
"""Our ResNet keys -> ``transformers`` ResNet keys."""


def resnet_from_hf(hf_model: nn.Module) -> ResNet:
    """See :meth:`replearn.cnn.resnet.ResNet.from_hf`.

    ``transformers`` applies ``hidden_act`` in the stem and after each sum only; the
    activations inside a block's residual branch are always ReLU. The built model mirrors that.
    """
    cfg, state, num_classes = split_hf_model(hf_model)
    model = ResNet(
        cfg.depths,
        cfg.hidden_sizes,
        block=cfg.layer_type,
        num_classes=num_classes,
        in_chans=cfg.num_channels,
        stem_width=cfg.embedding_size,
        downsample_in_first_stage=cfg.downsample_in_first_stage,
        downsample_in_bottleneck=cfg.downsample_in_bottleneck,
        act_layer=activation(cfg.hidden_act),
    )
    for stage in model.stages:
        for block in stage:
            block.act1 = nn.ReLU()
            if isinstance(block, Bottleneck):
                block.act2 = nn.ReLU()
    load_renamed(model, state, RESNET_RULES)
    return model.train(hf_model.training)


# ---------------------------------------------------------------------------------------------
# ConvNeXt: ConvNextModel / ConvNextForImageClassification

CONVNEXT_RULES: list[Rule] = [
    (r"^stem\.conv\.", "embeddings.patch_embeddings."),
    (r"^stem\.norm\.", "embeddings.layernorm."),
    (r"^stages\.(\d+)\.downsample\.norm\.", r"encoder.stages.\1.downsampling_layer.0."),
    (r"^stages\.(\d+)\.downsample\.conv\.", r"encoder.stages.\1.downsampling_layer.1."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.", r"encoder.stages.\1.layers.\2."),
    (r"\.conv_dw\.", ".dwconv."),
    (r"\.norm\.", ".layernorm."),
    (r"\.gamma$", ".layer_scale_parameter"),
    (r"^norm\.", "layernorm."),
    (r"^fc\.", "classifier."),
]
"""Our ConvNeXt keys -> ``transformers`` ConvNext keys."""


def convnext_from_hf(hf_model: nn.Module) -> ConvNeXt:
    """See :meth:`replearn.cnn.convnext.ConvNeXt.from_hf`."""
    cfg, state, num_classes = split_hf_model(hf_model)
    if cfg.num_stages != len(cfg.depths):
        raise ValueError(f"num_stages={cfg.num_stages} but {len(cfg.depths)} depths")
    model = ConvNeXt(
        cfg.depths,
        cfg.hidden_sizes,
        num_classes=num_classes,
        in_chans=cfg.num_channels,
        patch_size=cfg.patch_size,
        layer_scale_init=cfg.layer_scale_init_value,
        drop_path_rate=cfg.drop_path_rate,
        head_norm_eps=cfg.layer_norm_eps,
        act_layer=activation(cfg.hidden_act),
    )
    load_renamed(model, state, CONVNEXT_RULES)
    return model.train(hf_model.training)


# ---------------------------------------------------------------------------------------------
# EfficientNet: EfficientNetModel / EfficientNetForImageClassification

EFFICIENTNET_RULES: list[Rule] = [
    (r"^stem\.conv\.", "embeddings.convolution."),
    (r"^stem\.bn\.", "embeddings.batchnorm."),
    (r"\.expand\.conv\.", ".expansion.expand_conv."),
    (r"\.expand\.bn\.", ".expansion.expand_bn."),
    (r"\.depthwise\.conv\.", ".depthwise_conv.depthwise_conv."),
    (r"\.depthwise\.bn\.", ".depthwise_conv.depthwise_norm."),
    (r"\.se\.fc1\.", ".squeeze_excite.reduce."),
    (r"\.se\.fc2\.", ".squeeze_excite.expand."),
    (r"\.project\.conv\.", ".projection.project_conv."),
    (r"\.project\.bn\.", ".projection.project_bn."),
    (r"^head\.conv\.", "encoder.top_conv."),
    (r"^head\.bn\.", "encoder.top_bn."),
    (r"^fc\.", "classifier."),
]
"""Our EfficientNet keys -> ``transformers`` EfficientNet keys (after the block index map)."""


def efficientnet_from_hf(hf_model: nn.Module) -> EfficientNet:
    """See :meth:`replearn.cnn.efficientnet.EfficientNet.from_hf`.

    Two behaviours of the ``transformers`` implementation are mirrored on the built model:
    the first block of every stage never adds its input back (even where shapes would allow
    it), and the strided blocks whose flat index is in ``config.depthwise_padding`` pad
    symmetrically. Its head dropout is copied; its per-block element-wise dropout (where this
    network has stochastic depth) only acts in training mode.
    """
    cfg, state, num_classes = split_hf_model(hf_model)
    w = cfg.width_coefficient
    chained = [32, *cfg.out_channels[:-1]]
    if [round_filters(c, w, cfg.depth_divisor) for c in cfg.in_channels] != [
        round_filters(c, w, cfg.depth_divisor) for c in chained
    ]:
        raise ValueError(f"in_channels {cfg.in_channels} do not follow 32 + out_channels")
    if cfg.hidden_dim != round_filters(1280, w, cfg.depth_divisor):
        raise ValueError(f"hidden_dim {cfg.hidden_dim} != round_filters(1280) of the config")
    stages = zip(
        cfg.expand_ratios, cfg.kernel_sizes, cfg.strides, cfg.out_channels, cfg.num_block_repeats,
        strict=True,
    )  # fmt: skip
    model = EfficientNet(
        [StageSpec(*row) for row in stages],
        width_mult=w,
        depth_mult=cfg.depth_coefficient,
        num_classes=num_classes,
        in_chans=cfg.num_channels,
        se_ratio=cfg.squeeze_expansion_ratio,
        drop_rate=cfg.dropout_rate,
        drop_path_rate=cfg.drop_connect_rate,
        act_layer=activation(cfg.hidden_act),
        bn_eps=cfg.batch_norm_eps,
        tf_padding=True,
        global_pool={"mean": "avg", "max": "max"}[cfg.pooling_type],
        divisor=cfg.depth_divisor,
        default_resolution=cfg.image_size,
    )
    flat: dict[str, str] = {}
    for i, stage in enumerate(model.stages):
        for j, block in enumerate(stage):
            n = len(flat)
            flat[f"stages.{i}.{j}."] = f"encoder.blocks.{n}."
            block.has_skip = block.has_skip and j > 0
            if n in cfg.depthwise_padding and hasattr(block.depthwise, "pad"):
                block.depthwise.pad = nn.ZeroPad2d(block.kernel_size // 2)

    def key_map(key: str) -> str:
        i, j, rest = key.split(".", 3)[1:] if key.startswith("stages.") else ("", "", "")
        return flat[f"stages.{i}.{j}."] + rest if rest else key

    load_renamed(model, state, EFFICIENTNET_RULES, key_map=key_map)
    return model.train(hf_model.training)
