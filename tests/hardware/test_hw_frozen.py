"""Frozen value classes behave as the attrs frozen classes they replace."""

from __future__ import annotations

import copy
import pickle

import pytest

from hardware.config import AxisConfig, ControllerConfig, default_config
from hardware.frozen import Frozen, FrozenError, asdict, replace


class Base(Frozen):
    __slots__ = ("a", "b")

    a: int
    b: tuple[int, ...]

    def __init__(self, a: int, b: tuple[int, ...] = ()) -> None:
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)


class Derived(Base):
    __slots__ = ("c",)

    c: Base | None

    def __init__(self, a: int, b: tuple[int, ...] = (), c: Base | None = None) -> None:
        super().__init__(a, b)
        object.__setattr__(self, "c", c)


def test_fields_in_order_base_first() -> None:
    assert Derived.fields == ("a", "b", "c")
    assert repr(Derived(1, (2,), Base(3))) == "Derived(a=1, b=(2,), c=Base(a=3, b=()))"


def test_equality_and_hash_by_fields_and_class() -> None:
    assert Base(1, (2,)) == Base(1, (2,))
    assert hash(Base(1, (2,))) == hash(Base(1, (2,)))
    assert Base(1) != Base(2)
    assert Base(1) != Derived(1)  # same fields, another class
    assert {Base(1), Base(1), Base(2)} == {Base(1), Base(2)}


def test_no_assignment_after_init() -> None:
    value = Base(1)
    with pytest.raises(FrozenError, match=r"Base\.a cannot be assigned"):
        value.a = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        value.d = 2  # type: ignore[attr-defined]
    with pytest.raises(FrozenError):
        del value.a
    assert value.a == 1


def test_replace_copies_with_changes_and_refuses_unknown_fields() -> None:
    value = Derived(1, (2,))
    changed = replace(value, c=Base(5))
    assert changed == Derived(1, (2,), Base(5))
    assert value.c is None
    with pytest.raises(TypeError, match="no field x"):
        replace(value, x=1)


def test_pickle_copy_and_asdict() -> None:
    value = Derived(1, (2, 3), Base(4))
    assert pickle.loads(pickle.dumps(value)) == value
    assert copy.deepcopy(value) == value
    assert asdict(value) == {"a": 1, "b": [2, 3], "c": {"a": 4, "b": []}}


def test_slots_must_name_the_fields() -> None:
    with pytest.raises(TypeError, match="must name its fields"):
        class Wrong(Frozen):
            __slots__ = ("a",)

            a: int
            b: int


def test_robot_config_replace_and_defaults() -> None:
    config = default_config()
    slow = replace(config, axes={**config.axes, "X": replace(config.axes["X"], max_speed=1.0)})
    assert slow.axes["X"] == AxisConfig(1.0, config.axes["X"].acceleration,
                                        config.axes["X"].home, config.axes["X"].min,
                                        config.axes["X"].max, config.axes["X"].steps_per_mm,
                                        config.axes["X"].run_current,
                                        config.axes["X"].idle_current, config.axes["X"].homing)
    assert config.axes["X"].max_speed != 1.0
    assert ControllerConfig().axis_map == {}
    assert ControllerConfig().axis_map is not ControllerConfig().axis_map
