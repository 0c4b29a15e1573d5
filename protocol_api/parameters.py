"""Runtime parameters (apiLevel 2.18 on): what ``add_parameters(parameters)`` defines, and
the values a run's ``ctx.params`` holds.

A protocol may define ``add_parameters(parameters)`` beside ``run(ctx)``: its calls
(``add_int``, ``add_float``, ``add_bool``, ``add_str``, and from 2.20 ``add_csv_file``)
define named values, each with a default and the values it may take (a range or a list
of choices), checked as Opentrons checks them. A run uses the defaults unless it is given
other values (``labrun simulate --param NAME=VALUE``); ``ctx.params.NAME`` reads them.
"""

from __future__ import annotations

import csv
import keyword
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypedDict

from hardware.frozen import Frozen

from .errors import ParameterError, RuntimeParameterRequiredError
from .types import APIVersion

__all__ = ["CSVParameter", "Parameter", "ParameterChoice", "ParameterContext", "ParameterError",
           "Parameters", "resolve"]

DISPLAY_NAME_MAX = 30
DESCRIPTION_MAX = 100
UNIT_MAX = 10
CSV_API = (2, 20)
_KINDS = {"int": int, "float": float, "bool": bool, "str": str}


Value = int | float | bool | str


class ParameterChoice(TypedDict):
    """One of the ``choices`` of ``add_int``, ``add_float`` or ``add_str`` (Opentrons'
    ``opentrons.protocols.parameters.types.ParameterChoice``, for a protocol's types)."""

    display_name: str
    value: Value


class Parameter(Frozen):
    """One runtime parameter as ``add_parameters`` defined it: ``kind`` is ``int``,
    ``float``, ``bool``, ``str`` or ``csv``; ``choices`` are (display name, value) pairs."""

    __slots__ = ("choices", "default", "description", "display_name", "kind", "maximum",
                 "minimum", "name", "unit")

    name: str
    display_name: str
    kind: str
    default: Value | None  # None for a CSV file
    minimum: float | None
    maximum: float | None
    choices: tuple[tuple[str, Value], ...]
    description: str | None
    unit: str | None

    def __init__(self, name: str, display_name: str, kind: str, default: Value | None,
                 minimum: float | None = None, maximum: float | None = None,
                 choices: tuple[tuple[str, Value], ...] = (), description: str | None = None,
                 unit: str | None = None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "display_name", display_name)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "default", default)
        object.__setattr__(self, "minimum", minimum)
        object.__setattr__(self, "maximum", maximum)
        object.__setattr__(self, "choices", choices)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "unit", unit)

    def check(self, value: object) -> Value:
        """``value`` if this parameter may take it (an int for a float is made a float);
        ParameterError saying which values it takes if not."""
        value = _typed(self.kind, value, self.name)
        if self.choices and value not in [v for _, v in self.choices]:
            raise ParameterError(f"{self.name} must be one of {self.takes()}, not {value!r}")
        if self.minimum is not None and self.maximum is not None:
            assert isinstance(value, (int, float))
            if not self.minimum <= value <= self.maximum:
                raise ParameterError(f"{self.name} must be {self.takes()}, not {value!r}")
        assert isinstance(value, (int, float, bool, str))
        return value

    def parse(self, text: str) -> Value:
        """The value a command line's ``NAME=text`` gives this parameter, checked."""
        value: object = text
        if self.kind == "bool":
            words = {"true": True, "on": True, "yes": True, "1": True,
                     "false": False, "off": False, "no": False, "0": False}
            value = words.get(text.strip().lower(), text)
            if isinstance(value, str):
                raise ParameterError(f"{self.name} must be true or false (or yes/no, on/off, "
                                     f"1/0), not {text!r}")
        elif self.kind in ("int", "float"):
            try:
                value = int(text) if self.kind == "int" else float(text)
            except ValueError:
                raise ParameterError(f"{self.name} must be {_a(self.kind)}, not {text!r}") from None
            if isinstance(value, float) and not math.isfinite(value):
                raise ParameterError(f"{self.name} must be a finite number, not {text!r}")
        return self.check(value)

    def takes(self) -> str:
        """The values it takes, in words."""
        if self.kind == "csv":
            return "a CSV file"
        if self.kind == "bool":
            return "true or false"
        if self.choices:
            return ", ".join(repr(v) for _, v in self.choices)
        assert self.minimum is not None and self.maximum is not None
        return f"between {_number(self.minimum)} and {_number(self.maximum)}"


def _number(value: float) -> str:
    """``value`` in words, exactly: ``12``, ``0.5``, ``0.30000000000000004`` (the sum
    ``0.1 + 0.2``, which ``0.3`` is not), ``1234567`` (not ``1.23457e+06``)."""
    if isinstance(value, int) or float(f"{value:g}") != value:
        return repr(value)
    return f"{value:g}"


def _a(kind: str) -> str:
    return {"int": "an integer", "float": "a number", "bool": "True or False",
            "str": "a string"}[kind]


class ParameterContext:
    """What ``add_parameters(parameters)`` is given: each ``add_*`` call defines one
    runtime parameter, checked as Opentrons checks it."""

    def __init__(self, api_version: APIVersion) -> None:
        self._api_version = api_version
        self._defined: dict[str, Parameter] = {}

    @property
    def defined(self) -> tuple[Parameter, ...]:
        """The parameters defined so far, in order."""
        return tuple(self._defined.values())

    def add_int(self, display_name: str, variable_name: str, default: int,
                minimum: int | None = None, maximum: int | None = None,
                choices: Sequence[Mapping[str, Any]] | None = None,
                description: str | None = None, unit: str | None = None) -> None:
        """An integer: between ``minimum`` and ``maximum``, or one of ``choices``."""
        self._add_number("int", display_name, variable_name, default, minimum, maximum,
                         choices, description, unit)

    def add_float(self, display_name: str, variable_name: str, default: float,
                  minimum: float | None = None, maximum: float | None = None,
                  choices: Sequence[Mapping[str, Any]] | None = None,
                  description: str | None = None, unit: str | None = None) -> None:
        """A number: between ``minimum`` and ``maximum``, or one of ``choices``."""
        self._add_number("float", display_name, variable_name, default, minimum, maximum,
                         choices, description, unit)

    def add_bool(self, display_name: str, variable_name: str, default: bool,
                 description: str | None = None) -> None:
        """True or False (On or Off)."""
        self._define(Parameter(self._name(variable_name), _display(display_name), "bool",
                               _typed("bool", default, "default"),
                               description=_text("description", description, DESCRIPTION_MAX)))

    def add_str(self, display_name: str, variable_name: str, default: str,
                choices: Sequence[Mapping[str, Any]] | None = None,
                description: str | None = None) -> None:
        """One of ``choices`` (which it must have)."""
        name = self._name(variable_name)
        if not choices:
            raise ParameterError(f"add_str: {name} needs choices (a list of "
                                 "{'display_name': ..., 'value': ...})")
        display = _display(display_name)
        typed = _typed("str", default, "default")
        self._define(_with_default(Parameter(
            name, display, "str", None, choices=_choices("str", choices),
            description=_text("description", description, DESCRIPTION_MAX)), typed))

    def add_csv_file(self, display_name: str, variable_name: str,
                     description: str | None = None) -> None:
        """A CSV file, given for each run (apiLevel 2.20 on; one a protocol)."""
        from .api_level import require  # not at the top: api_level reads the loader's levels

        require("add_csv_file", CSV_API, self._api_version)
        if any(p.kind == "csv" for p in self._defined.values()):
            raise ParameterError("add_csv_file: a protocol may define only one CSV file "
                                 "parameter")
        self._define(Parameter(self._name(variable_name), _display(display_name), "csv", None,
                               description=_text("description", description, DESCRIPTION_MAX)))

    def _add_number(self, kind: str, display_name: str, variable_name: str, default: object,
                    minimum: object, maximum: object,
                    choices: Sequence[Mapping[str, Any]] | None, description: str | None,
                    unit: str | None) -> None:
        name = self._name(variable_name)
        display = _display(display_name)
        default = _typed(kind, default, "default")
        if choices is not None:
            if minimum is not None or maximum is not None:
                raise ParameterError(f"add_{kind}: {name} is given choices and a minimum or "
                                     "maximum; give one or the other")
            listed = _choices(kind, choices)
            if not listed:  # as Opentrons: no value is allowed, the default included
                raise ParameterError(f"add_{kind}: {name} is given no choices (an empty "
                                     "list); give some, or a minimum and a maximum")
            bounds: tuple[float | None, float | None] = (None, None)
        elif minimum is None or maximum is None:
            raise ParameterError(f"add_{kind}: {name} needs a minimum and a maximum, or "
                                 "choices")
        else:
            low, high = _typed(kind, minimum, "minimum"), _typed(kind, maximum, "maximum")
            assert isinstance(low, (int, float)) and isinstance(high, (int, float))
            if high < low:
                raise ParameterError(f"add_{kind}: {name}'s maximum {_number(high)} is less "
                                     f"than its minimum {_number(low)}")
            listed, bounds = (), (low, high)
        self._define(_with_default(Parameter(
            name, display, kind, None, bounds[0], bounds[1], listed,
            _text("description", description, DESCRIPTION_MAX), _text("unit", unit, UNIT_MAX)),
            default))

    def _name(self, variable_name: object) -> str:
        if not isinstance(variable_name, str) or not variable_name.isidentifier():
            raise ParameterError(f"variable_name {variable_name!r} must be a Python name "
                                 "(letters, digits and _, not starting with a digit)")
        if keyword.iskeyword(variable_name):
            raise ParameterError(f"variable_name {variable_name!r} is a Python keyword")
        if variable_name in self._defined or hasattr(Parameters(), variable_name):
            # As in Opentrons: not another parameter's, nor a name ctx.params has itself.
            raise ParameterError(f"variable_name {variable_name!r} is already used (by "
                                 "another parameter or by ctx.params itself); give another")
        return variable_name

    def _define(self, parameter: Parameter) -> None:
        self._defined[parameter.name] = parameter


def _with_default(parameter: Parameter, default: object) -> Parameter:
    """``parameter`` with its default, which must be one of the values it takes (as in
    Opentrons: "Parameter must be set to one of the allowed values")."""
    try:
        checked = parameter.check(default)
    except ParameterError:
        one_of = "one of " if parameter.choices else ""
        raise ParameterError(f"add_{parameter.kind}: the default of {parameter.name} must be "
                             f"{one_of}{parameter.takes()}, not {default!r}") from None
    return Parameter(parameter.name, parameter.display_name, parameter.kind, checked,
                     parameter.minimum, parameter.maximum, parameter.choices,
                     parameter.description, parameter.unit)


def _display(display_name: object) -> str:
    text = _text("display_name", display_name, DISPLAY_NAME_MAX)
    if text is None:
        raise ParameterError("display_name must be a string")
    return text


def _text(what: str, value: object, most: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParameterError(f"{what} must be a string of at most {most} characters, not "
                             f"{value!r}")
    if len(value) > most:
        raise ParameterError(f"{what} {value!r} is longer than {most} characters")
    return value


def _typed(kind: str, value: object, what: str) -> Value:
    wanted = _KINDS[kind]
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
        raise ParameterError(f"{what} must be {_a(kind)}, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(f"{what} must be a finite number, not {value!r}")
    assert isinstance(value, (int, float, bool, str))
    return value


def _choices(kind: str, choices: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, Value], ...]:
    listed = []
    for choice in choices:
        if not isinstance(choice, Mapping) or not {"display_name", "value"} <= set(choice):
            raise ParameterError("each choice must be a dict with the keys 'display_name' and "
                                 f"'value', not {choice!r}")
        listed.append((_display(choice["display_name"]), _typed(kind, choice["value"],
                                                                 "each choice's value")))
    return tuple(listed)


class CSVParameter:
    """A CSV file given to a run: its ``contents``, a read-only ``file``, and its rows
    (``parse_as_csv``)."""

    def __init__(self, contents: bytes | None, name: str, source: str | None = None) -> None:
        self._contents = contents
        self._name = name
        self.source = source  # the path it was read from
        self._file: IO[str] | None = None

    @property
    def contents(self) -> str:
        """The whole file as text (UTF-8)."""
        if self._contents is None:
            raise RuntimeParameterRequiredError(
                f"the CSV file parameter {self._name} was given no file (labrun simulate "
                f"and run take one as --param {self._name}=FILE.csv; a queued run has none)")
        try:
            return self._contents.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParameterError(f"the CSV file of {self._name} is not UTF-8 text: {exc}") from None

    @property
    def file(self) -> IO[str]:
        """The file, open for reading as text, as Opentrons opens it: read-only, line ends
        read as ``\n`` (a file saved with ``\r\n`` too), ``name`` its path, ``mode``
        ``'r'``."""
        if self._file is None:
            import io

            self.contents  # noqa: B018 - given, and text: refused here, at this line
            assert self._contents is not None
            raw = io.BytesIO(self._contents)
            raw.name = self.source or self._name
            text = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8", newline=None)
            text.mode = "r"  # type: ignore[misc]
            self._file = text
        return self._file

    @property
    def file_opened(self) -> bool:
        """Whether ``file`` has been opened."""
        return self._file is not None

    def parse_as_csv(self, detect_dialect: bool = True, **kwargs: Any) -> list[list[str]]:
        """The rows, each a list of its cells as strings (the header, if any, first);
        ``detect_dialect`` guesses the delimiter and quoting; ``kwargs`` go to
        ``csv.reader``. Trailing empty rows are left out."""
        text = self.contents
        if "\0" in text:  # as Python's csv module up to 3.10 (Opentrons' robots) says
            line = text.count("\n", 0, text.index("\0")) + 1
            raise ParameterError(f"cannot read the CSV file of {self._name}: line {line} "
                                 "contains NUL")
        try:
            if detect_dialect:
                try:
                    dialect = csv.Sniffer().sniff(text[:1024])
                except csv.Error as exc:  # as in Opentrons, which guesses the same way
                    raise ParameterError(
                        f"cannot read the CSV file of {self._name}: {exc} (for a file of one "
                        "column, parse_as_csv(detect_dialect=False))") from None
                rows = list(csv.reader(text.split("\n"), dialect, **kwargs))
            else:
                rows = list(csv.reader(text.split("\n"), **kwargs))
        except csv.Error as exc:
            raise ParameterError(f"cannot read the CSV file of {self._name}: {exc}") from None
        while rows and rows[-1] == []:
            rows.pop()
        return rows

    def __repr__(self) -> str:
        return f"<CSVParameter {self._name}>"


class Parameters:
    """``ctx.params``: each runtime parameter's value as an attribute, and ``get_all()``."""

    def __init__(self, values: Mapping[str, Value | CSVParameter] | None = None) -> None:
        object.__setattr__(self, "_values", dict(values or {}))
        for name, value in self._values.items():
            object.__setattr__(self, name, value)

    def get_all(self) -> dict[str, Value | CSVParameter]:
        """Every parameter's value, by name."""
        return dict(self._values)

    def __setattr__(self, name: str, value: object) -> None:
        if name in self._values:
            raise AttributeError(f"ctx.params.{name} is a runtime parameter; it cannot be "
                                 "changed")
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if not self._values:  # no add_parameters, or one that defines none
            raise AttributeError(f"ctx.params has no parameter {name!r}; the protocol "
                                 "defines none (add_parameters)")
        raise AttributeError(f"ctx.params has no parameter {name!r}; its parameters are "
                             f"{', '.join(self._values)}")

    def __repr__(self) -> str:
        return f"Parameters({self._values!r})"


def resolve(defined: Sequence[Parameter], given: Mapping[str, str],
            files: dict[str, bytes] | None = None, folder: str | None = None) -> Parameters:
    """The values of a run's parameters: the defaults, except those ``given`` by name (a
    command line's text; a CSV file's path, relative to ``folder``, by default the current
    one). ParameterError names an unknown name, or a value a parameter cannot take.
    ``files`` keeps the CSV files read, by path: a second run given it (a robot's, after
    its simulation) takes the very contents the first one read, whatever happened to the
    file since."""
    by_name = {p.name: p for p in defined}
    values: dict[str, Value | CSVParameter] = {}
    for name in given:
        if name not in by_name:
            known = ", ".join(by_name) or "none"
            raise ParameterError(f"the protocol has no parameter {name!r}; its parameters "
                                 f"are {known}")
    for parameter in defined:
        text: str | None = given.get(parameter.name)
        if parameter.kind == "csv":
            contents = None
            if text is not None and files is not None and text in files:
                contents = files[text]
            elif text is not None:
                if not text.strip():  # (the empty path is the current folder)
                    raise ParameterError(f"{parameter.name}: a CSV file parameter needs a "
                                         "file's path, not an empty one")
                path = Path(folder or "", text)
                if path.exists() and not path.is_file():  # read for ever (a pipe)
                    raise ParameterError(f"{parameter.name}: the CSV file {text} is not a "
                                         "regular file")
                try:
                    contents = path.read_bytes()
                except OSError as exc:
                    raise ParameterError(f"{parameter.name}: cannot read the CSV file {text}: "
                                         f"{exc.strerror or exc}") from None
                if files is not None:
                    files[text] = contents
            values[parameter.name] = CSVParameter(contents, parameter.name, text)
        elif text is None:
            assert parameter.default is not None
            values[parameter.name] = parameter.default
        else:
            values[parameter.name] = parameter.parse(text)
    return Parameters(values)


def shown(value: Value | CSVParameter) -> Value | None:
    """A parameter's value as plain data (a CSV file: the path it was read from, or None)."""
    return value.source if isinstance(value, CSVParameter) else value

