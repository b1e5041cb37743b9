"""``layer_table`` and ``replearn arch``: shapes, parameters, FLOPs and receptive fields.

Checked against the modules run one by one (shapes), ``sum(p.numel())``, the
formulas of :mod:`replearn.cnn.arithmetic`, and the support of the input gradient
of one output unit (receptive field), for a plain and a residual network.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replearn.cli import main
from replearn.cnn import arithmetic as A
from replearn.cnn.layers import Conv2d, ConvTranspose2d
from replearn.cnn.pooling import AvgPool2d
from replearn.metrics.arch import layer_table


def lenet() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),  # 28 -> 28, r 5
        nn.Tanh(),
        nn.AvgPool2d(2),  # 14, r 6, j 2
        Conv2d(6, 16, 5),  # 10, r 14  (the from-scratch module)
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 5, r 16, j 4
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 10),
    )


def test_rows_match_the_modules_run_one_by_one() -> None:
    torch.manual_seed(0)
    model, x = lenet().eval(), torch.randn(2, 1, 28, 28)
    rows, total = layer_table(model, (x,))
    assert total == sum(p.numel() for p in model.parameters())
    assert [r.name for r in rows] == [str(i) for i in range(len(model))]
    h = x
    for row, layer in zip(rows, model, strict=True):
        h = layer(h)
        assert row.output_shape == tuple(h.shape)
        assert row.parameters == sum(p.numel() for p in layer.parameters())
    assert [r.receptive_field for r in rows] == [
        (5, 5), (5, 5), (6, 6), (14, 14), (14, 14), (14, 14), (16, 16), None, None,
    ]  # fmt: skip
    layers = [5, (2, 2), 5, (2, 2)]
    assert A.receptive_fields(layers)[-1] == (16, 4)


def test_flops_follow_the_documented_convention() -> None:
    rows, _ = layer_table(lenet(), (torch.randn(2, 1, 28, 28),))
    flops = [r.flops for r in rows]
    assert flops[0] == 2 * A.conv_flops(1, 6, 5, 28, bias=True)  # batch of 2
    assert flops[1] == 2 * 6 * 28 * 28  # one per value
    assert flops[2] == 2 * 6 * 14 * 14 * 4  # avg pool: prod K per output
    assert flops[3] == 2 * A.conv_flops(6, 16, 5, 10, bias=True)
    assert flops[4] == 2 * 2 * 16 * 10 * 10  # eval batch norm: scale and shift
    assert flops[6] == 2 * 16 * 5 * 5 * 3  # max pool: prod K - 1 comparisons
    assert flops[7] == 0
    assert flops[8] == 2 * (2 * 400 * 10 + 10)


def _support(model: nn.Module, x: torch.Tensor, unit: tuple[int, ...]) -> tuple[int, ...]:
    x = x.clone().requires_grad_(True)
    model(x)[unit].backward()
    nonzero = x.grad[0].abs().sum(0).nonzero()
    return tuple((nonzero.max(0).values - nonzero.min(0).values + 1).tolist())


class Residual(nn.Module):
    """conv s2 -> conv, plus a 1x1 s2 shortcut computed *after* the main path, then a conv."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(2, 4, 3, stride=2, padding=1)
        self.act = nn.Tanh()
        self.b = nn.Conv2d(4, 4, 3, padding=1, dilation=1)
        self.shortcut = nn.Conv2d(2, 4, 1, stride=2)
        self.c = nn.Conv2d(4, 3, 3, padding=2, dilation=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(self.b(self.act(self.a(x))) + self.shortcut(x))


@pytest.mark.parametrize("model", [Residual(), nn.Sequential(
    nn.Conv2d(2, 3, 3), nn.Tanh(), AvgPool2d(3, stride=2), nn.Conv2d(3, 3, 3, dilation=2),
    nn.BatchNorm2d(3), nn.Conv2d(3, 2, (1, 3), stride=(1, 2)),
)], ids=["residual", "plain"])  # fmt: skip
def test_receptive_field_is_the_gradient_support(model: nn.Module) -> None:
    torch.manual_seed(1)
    model = model.double().eval()
    x = torch.randn(1, 2, 41, 41, dtype=torch.float64)
    rows, _ = layer_table(model, (x,))
    out = model(x)
    center = (0, 0, out.shape[2] // 2, out.shape[3] // 2)
    assert rows[-1].receptive_field == _support(model, x, center)
    if isinstance(model, Residual):  # the shortcut (r 1, stride 2) must not restart the field
        assert rows[-1].receptive_field == (A.receptive_field([(3, 2), 3, (3, 1, 2)]),) * 2


def test_undefined_after_global_pooling_and_transposed_conv() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Conv2d(2, 2, 1))
    rows, _ = layer_table(model, (torch.randn(1, 1, 8, 8),))
    assert [r.receptive_field for r in rows] == [(3, 3), None, None]
    assert rows[1].flops == 2 * 6 * 6
    up = nn.Sequential(ConvTranspose2d(2, 3, 3, stride=2), nn.ReLU())
    rows, _ = layer_table(up, (torch.randn(1, 2, 4, 4),))
    assert [r.receptive_field for r in rows] == [None, None]
    assert rows[0].flops == 2 * (2 * 4 * 4) * 3 * 9 + 3 * 9 * 9  # input values x C_out x K, bias


def test_cli_arch_accepts_shapes_with_and_without_batch(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["arch", "cnn.conv2d", "--input-shape", "3,16,16"]) == 0
    out = capsys.readouterr().out
    assert "(1, 4, 8, 8)" in out and "receptive field" in out and "FLOPs" in out
    assert f"{A.conv_flops(3, 4, 3, 8, bias=True):,}" in out
    assert main(["arch", "cnn.conv2d", "--input-shape", "2,3,16,16"]) == 0
    assert "(2, 4, 8, 8)" in capsys.readouterr().out
    assert main(["arch", "cnn.conv2d", "--input-shape", "16,16"]) == 2
    assert "--input-shape" in capsys.readouterr().err
    assert main(["arch", "fundamentals.mlp", "--input-shape", "3,5"]) == 2
    assert "cannot take input" in capsys.readouterr().err


class Functional(nn.Module):
    """Uses its conv's weight through ``F.conv2d``: no hook sees that layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.head = nn.Conv2d(1, 2, 5), nn.Conv2d(2, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.nn.functional.conv2d(x, self.conv.weight, self.conv.bias))


def test_bypassed_conv_modules_make_receptive_fields_unknown() -> None:
    rows, total = layer_table(Functional(), (torch.randn(1, 1, 9, 9),))
    assert [r.name for r in rows] == ["head"] and total == 2 * 25 + 2 + 2 * 2 * 9 + 2
    assert rows[0].receptive_field is None  # not (3, 3): the first conv was invisible


class _Attention(nn.Module):
    """Projections as modules; QK^T and AV as functional products (einsum and sdpa)."""

    def __init__(self, dim: int, sdpa: bool) -> None:
        super().__init__()
        self.qkv, self.proj, self.sdpa = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim), sdpa

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, 2, c // 2).permute(2, 0, 3, 1, 4)
        if self.sdpa:
            y = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = torch.einsum("bhtd,bhsd->bhts", q, k).softmax(-1)
            y = att @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


@pytest.mark.parametrize("sdpa", [False, True])
def test_attention_products_are_counted(sdpa: bool) -> None:
    b, t, c = 3, 5, 8
    model = _Attention(c, sdpa)
    rows, _ = layer_table(model, (torch.randn(b, t, c),))
    products = [r for r in rows if r.type == "_Attention: matrix products"]
    assert len(products) == 1
    # QK^T: b*h*t*t*d multiply-adds, AV: the same; a multiply-add is 2 FLOPs; h*d = c
    assert products[0].flops == 2 * (2 * b * t * t * c)
    linear = sum(r.flops for r in rows if r.type == "Linear")
    assert linear == 2 * b * t * c * 3 * c + b * t * 3 * c + 2 * b * t * c * c + b * t * c


def test_cli_arch_of_an_experiment_shows_its_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["arch", "mlp", "--preset", "tiny", "--set", "hidden=24"]) == 0
    out = capsys.readouterr().out
    assert "the model the experiment trains" in out and "(1, 24)" in out and "(1, 10)" in out
    # the README's form: the experiment qualified by its topic, a batch of 8 digit vectors
    assert main(["arch", "fundamentals.mlp", "--input-shape", "8,64"]) == 0
    out = capsys.readouterr().out
    assert "(8, 256)" in out and "(8, 10)" in out
