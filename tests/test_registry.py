"""Registry-wide properties of every registered module and experiment."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from replearn import registry
from replearn.commands import checking_test, coverage_markdown, source_file
from replearn.registry import UnknownNameError

REPO = Path(__file__).resolve().parents[1]
MODULES = [e for e in registry.entries(kind="method") if e.example is not None]


def test_something_is_registered() -> None:
    assert {"fundamentals.mlp", "fundamentals.perceptron"} <= {e.name for e in MODULES}
    assert {"mlp", "tour"} <= {e.name for e in registry.entries(kind="experiment")}


@pytest.mark.parametrize("entry", MODULES, ids=lambda e: e.name)
def test_module_output_is_finite_with_the_declared_shape(entry: registry.Entry) -> None:
    torch.manual_seed(0)
    ex = entry.example()
    out = ex.module(*ex.inputs)
    out = out[0] if isinstance(out, (tuple, list)) else out
    assert tuple(out.shape) == ex.output_shape
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("entry", MODULES, ids=lambda e: e.name)
def test_every_parameter_gets_a_gradient(entry: registry.Entry) -> None:
    torch.manual_seed(0)
    ex = entry.example()
    out = ex.module(*ex.inputs)
    out = out[0] if isinstance(out, (tuple, list)) else out
    if not out.requires_grad:
        # nothing upstream is trainable (a fixed-weight McCulloch-Pitts unit): nothing to check
        assert not any(p.requires_grad for p in ex.module.parameters()), entry.name
        return
    out.float().square().mean().backward()
    for name, p in ex.module.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{entry.name}: no gradient for {name}"
            assert torch.isfinite(p.grad).all(), f"{entry.name}: non-finite gradient for {name}"


@pytest.mark.parametrize("entry", MODULES, ids=lambda e: e.name)
def test_same_seed_same_output(entry: registry.Entry) -> None:
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        ex = entry.example()
        ex.module.eval()
        out = ex.module(*ex.inputs)
        outs.append(out[0] if isinstance(out, (tuple, list)) else out)
    assert torch.equal(outs[0].detach(), outs[1].detach())


@pytest.mark.parametrize("entry", registry.entries(), ids=lambda e: e.name)
def test_entry_is_documented_and_its_files_exist(entry: registry.Entry) -> None:
    assert entry.summary, f"{entry.name} has no docstring"
    assert (REPO / source_file(entry)).is_file()
    assert (REPO / checking_test(entry)).is_file(), f"{entry.name}: missing {checking_test(entry)}"
    if entry.kind == "method":
        assert entry.paper and entry.reference, f"{entry.name} lacks its paper or its reference"


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UnknownNameError, match=r"fundamentals\.mlp"):
        registry.get("fundamentals.mpl")
    with pytest.raises(UnknownNameError, match="replearn list"):
        registry.get("zzzz-nothing")


def test_coverage_doc_is_up_to_date() -> None:
    doc = REPO / "docs" / "coverage.md"
    assert doc.read_text(encoding="utf-8") == coverage_markdown(), (
        "docs/coverage.md is stale: run `replearn list --markdown > docs/coverage.md`"
    )
