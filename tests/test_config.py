"""``--set`` parsing by the annotated field types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from replearn.config import ConfigError, apply_overrides, diff, parse_value, to_dict


@dataclass(frozen=True)
class Inner:
    steps: int = 3
    rate: float | None = None


@dataclass(frozen=True)
class Outer:
    name: str = "a"
    flag: bool = False
    mode: Literal["x", "y"] = "x"
    sizes: tuple[int, ...] = (1, 2)
    inner: Inner = field(default_factory=Inner)


def test_overrides_parse_by_type() -> None:
    cfg = apply_overrides(
        Outer(), ["name=b", "flag=true", "mode=y", "sizes=4,5,6", "inner.steps=9", "inner.rate=0.5"]
    )
    assert cfg == Outer("b", True, "y", (4, 5, 6), Inner(9, 0.5))
    assert apply_overrides(cfg, ["inner.rate=none", "sizes=()"]).inner.rate is None
    assert apply_overrides(cfg, ["sizes="]).sizes == ()


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("nme=b", "did you mean name"),
        ("flag=maybe", "expected bool"),
        ("mode=z", "one of 'x', 'y'"),
        ("inner.steps=2.5", "expected int"),
        ("inner.rate=fast", "expected float or none"),
        ("name.x=1", "has no sub-keys"),
        ("inner=1", "is a section"),
    ],
)
def test_bad_overrides_name_key_and_type(item: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        apply_overrides(Outer(), [item])


def test_values_are_never_evaluated() -> None:
    with pytest.raises(ValueError):
        parse_value("__import__('os').system('true')", int)
    assert parse_value("__import__('os')", str) == "__import__('os')"


def test_diff_names_changed_keys() -> None:
    a, b = to_dict(Outer()), to_dict(apply_overrides(Outer(), ["inner.steps=4"]))
    assert diff(a, b) == ["inner.steps: 3 vs 4"]


@dataclass(frozen=True)
class Pair:
    """Valid only when ``a`` and ``b`` are both zero or both positive."""

    a: int = 1
    b: int = 1

    def __post_init__(self) -> None:
        if (self.a == 0) != (self.b == 0):
            raise ValueError(f"a and b must be zero together, got a={self.a} b={self.b}")


@dataclass(frozen=True)
class Holder:
    pair: Pair = field(default_factory=Pair)


def test_overrides_are_validated_together_in_any_order() -> None:
    both = Holder(Pair(0, 0))
    assert apply_overrides(Holder(), ["pair.a=0", "pair.b=0"]) == both
    assert apply_overrides(Holder(), ["pair.b=0", "pair.a=0"]) == both
    assert apply_overrides(Holder(), ["pair.a=5", "pair.a=2"]).pair.a == 2  # last one wins
    with pytest.raises(ConfigError, match="zero together"):
        apply_overrides(Holder(), ["pair.a=0"])
