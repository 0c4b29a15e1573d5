"""Small immutable values as plain slotted classes, with no class-building at import.

A value class derives from ``Frozen``, annotates its fields, lists them in ``__slots__``
and writes its ``__init__`` (``object.__setattr__`` for each field). ``Frozen`` adds what
attrs' frozen
classes gave: equality and hashing by the fields (same class only), a repr naming them,
no assignment after ``__init__``, pickling and copying, and ``replace`` (``evolve``).
Building an attrs class compiled its methods at import (~0.5 ms a class, 90 classes on
``labrun simulate``'s path); these classes cost what a plain class costs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

_T = TypeVar("_T", bound="Frozen")
_set = object.__setattr__


class FrozenError(AttributeError):
    """An assignment to a field of a frozen value."""


def _no_values(value: object) -> tuple[()]:
    return ()


values: Callable[[Frozen], tuple[Any, ...]] = attrgetter("_field_values")
"""The fields of a value, in the order of its ``fields``: read by C getters alone (the
class's ``_field_values`` property), with no Python frame, as it is several times a
command (its params for the record, its check before it is sent, a state replaced)."""


class Frozen:
    """Base of value classes: the fields are the annotated names of the class and its bases
    (base fields first, each class in its order of annotation), which ``__slots__`` lists."""

    __slots__ = ()
    fields: ClassVar[tuple[str, ...]] = ()
    _field_values: ClassVar[property]  # what ``values`` reads, made for each class

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the class's own annotations (on Python 3.10+ a class without any has an empty
        # dict, not its base's): inspect.get_annotations, without importing inspect
        own = [name for name, kind in cls.__annotations__.items()
               if not str(kind).startswith(("ClassVar", "typing.ClassVar"))]
        if set(own) != set(cls.__dict__.get("__slots__", ("__dict__",))):
            raise TypeError(f"{cls.__qualname__}.__slots__ must name its fields {own}")
        names = [*cls.fields, *own]
        cls.fields = tuple(names)
        if len(names) == 1:
            one = attrgetter(names[0])
            cls._field_values = property(lambda value: (one(value),))
        else:
            cls._field_values = property(attrgetter(*names) if names else _no_values)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return values(self) == values(other)

    def __hash__(self) -> int:
        return hash((self.__class__, values(self)))

    def __repr__(self) -> str:
        name = self.__class__.__qualname__.rsplit(">.", 1)[-1]
        args = ", ".join(f"{field}={getattr(self, field)!r}" for field in self.fields)
        return f"{name}({args})"

    if TYPE_CHECKING:
        def __getstate__(self) -> tuple[Any, ...]: ...
    else:  # ``value.__getstate__`` is ``partial(values, value)``: pickled with no Python
        # frame either, as a run's command log spills every command it keeps
        __getstate__ = property(partial(partial, values))

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for field, value in zip(self.fields, state, strict=True):
            _set(self, field, value)

    if not TYPE_CHECKING:  # mypy keeps flagging assignments to names that are no field
        def __setattr__(self, name: str, value: object) -> None:
            raise FrozenError(f"{self.__class__.__name__}.{name} cannot be assigned")

        def __delattr__(self, name: str) -> None:
            raise FrozenError(f"{self.__class__.__name__}.{name} cannot be deleted")


def replace(value: _T, **changes: Any) -> _T:
    """A copy of ``value`` with ``changes`` to some fields (attrs' ``evolve``)."""
    new = object.__new__(value.__class__)
    fields = value.fields
    for field, current in zip(fields, values(value), strict=True):
        _set(new, field, changes.pop(field, current))
    if changes:
        raise TypeError(f"{value.__class__.__name__} has no field {', '.join(changes)}")
    return new


def asdict(value: Frozen) -> dict[str, Any]:
    """The fields as a dict, values within it too (attrs' ``asdict``: tuples and lists
    become lists, dicts are copied)."""
    return {field: _plain(item) for field, item in zip(value.fields, values(value),
                                                      strict=True)}


def _plain(item: Any) -> Any:
    if isinstance(item, Frozen):
        return asdict(item)
    if isinstance(item, (tuple, list, set, frozenset)):
        return [_plain(x) for x in item]
    if isinstance(item, dict):
        return {k: _plain(v) for k, v in item.items()}
    return item
