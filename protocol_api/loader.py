"""Loading protocol files: metadata, apiLevel, ``run``, and ``opentrons`` imports.

A protocol file is executed in its own namespace whose ``__import__`` resolves
``opentrons`` and the module paths protocols import from it (``opentrons.protocol_api``,
``.labware``, ``.contexts``, ``opentrons.types``, ``opentrons.protocols.api_support.types``,
...) to labrun's modules.
Nothing is added to ``sys.modules``: every other import in the process, and an
installed opentrons package, are untouched. ``os`` is given to the protocol with an
``os._exit`` that raises ``ProtocolExit``: a protocol can end its run, never labrun.
"""

from __future__ import annotations

import ast
import builtins
import io
import opcode
import os
import re
import sys
import types
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import error_line
from hardware.frozen import Frozen

from .errors import ProtocolError, ProtocolExit, ProtocolLoadError, exit_message

if TYPE_CHECKING:
    from .parameters import Parameter

MIN_API = (2, 0)
MAX_API = (2, 27)
NEWEST_LEVEL = f"{MAX_API[0]}.{MAX_API[1]}"
SUPPORTED = f"{MIN_API[0]}.{MIN_API[1]} to {NEWEST_LEVEL}"


class ProtocolSource(Frozen):
    """A loaded protocol file; ``parameters``, the runtime parameters its
    ``add_parameters`` defines (none without one)."""

    __slots__ = ("api_version", "metadata", "parameters", "path", "requirements", "run")

    path: str
    api_version: tuple[int, int]
    metadata: Mapping[str, Any]
    requirements: Mapping[str, Any]
    run: Callable[[Any], None]
    parameters: tuple[Parameter, ...]

    def __init__(self, path: str, api_version: tuple[int, int], metadata: Mapping[str, Any],
                 requirements: Mapping[str, Any], run: Callable[[Any], None],
                 parameters: tuple[Parameter, ...] = ()) -> None:
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "api_version", api_version)
        object.__setattr__(self, "metadata", metadata)
        object.__setattr__(self, "requirements", requirements)
        object.__setattr__(self, "run", run)
        object.__setattr__(self, "parameters", parameters)


class LoadInterrupted(KeyboardInterrupt):
    """Ctrl-C while the protocol's top level ran, with the ``file:line`` it was at."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class LocatedLoadError(ProtocolLoadError):
    """A load error with the protocol ``file:line`` it concerns."""

    def __init__(self, message: str, location: str) -> None:
        super().__init__(message)
        self.location = location


def load_protocol(path: str | Path, *, shown_as: str | None = None) -> ProtocolSource:
    """Read, check and execute a protocol file's top level; nothing runs on the robot.

    ``shown_as``: the name its errors, steps and record give the file (``file:line``), the
    name its user knows when the file read is a copy (a server's upload); by default its
    resolved path. ``__file__`` is the path read, whatever the name.
    """
    path = Path(path).resolve()
    name = str(path) if shown_as is None else shown_as
    if path.exists() and not path.is_file() and not path.is_dir():
        # A device (/dev/zero) or a pipe would be read for ever.
        raise LocatedLoadError("the protocol is not a regular file", name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LocatedLoadError(f"cannot read the protocol file: {exc.strerror}", name) from None
    if path.suffix.lower() == ".json" and data.lstrip()[:1] == b"{":
        raise LocatedLoadError("this is an Opentrons JSON protocol (from the Protocol "
                               "Designer); labrun runs Python protocols", name)
    text = protocol_text(data, name)
    code = _compile(text, name)
    literals = _literal_dicts(text, code, name)
    metadata, meta_line = literals.get("metadata", ({}, 1))
    requirements, req_line = literals.get("requirements", ({}, 1))
    if metadata.get("apiLevel") is None and requirements.get("apiLevel") is None:
        _refuse_api_v1(text, name)
    api_version = _api_level(name, metadata, meta_line, requirements, req_line)
    robot_type = requirements.get("robotType", "OT-2")
    if robot_type != "OT-2":
        raise LocatedLoadError(
            "labrun runs OT-2 protocols; robotType 'Flex' is not supported"
            if robot_type == "Flex" else
            f"robotType must be 'OT-2' or 'Flex', not {robot_type!r}", f"{name}:{req_line}")
    if "run" not in code.co_names:  # the top level never names it: nothing binds it
        raise LocatedLoadError("the protocol has no run(ctx) function", f"{name}:1")
    defs = sorted(const.co_firstlineno for const in code.co_consts
                  if isinstance(const, types.CodeType) and const.co_name == "run")
    if len(defs) > 1:  # Opentrons refuses it; here the last would run, silently
        lines = ", ".join(str(line) for line in defs)
        raise LocatedLoadError(f"run is defined {len(defs)} times (lines {lines}); a "
                               "protocol has one run(ctx) function", f"{name}:{defs[-1]}")
    namespace = _execute(code, name, str(path))
    run = namespace.get("run")
    if not callable(run) or isinstance(run, type):
        run_line = _last_binding(_parse(text, name).body, "run")
        if run_line is None:
            raise LocatedLoadError("the protocol has no run(ctx) function", f"{name}:1")
        raise LocatedLoadError("run must be a function taking the protocol context, not "
                               f"{type(run).__name__} {run!r}"[:200], f"{name}:{run_line}")
    kind = _not_plain(run)
    if kind is not None:  # it would return at once, having run nothing
        raise LocatedLoadError(f"run must be a plain def, not {kind}", _def_line(run, name))
    if not _takes_one_argument(run):
        raise LocatedLoadError("run must take exactly one argument, the protocol context",
                               _def_line(run, name))
    # As in Opentrons, add_parameters runs in a namespace of its own (the file executed
    # anew): what it sets or appends at the top level, run does not see.
    own = _execute(code, name, str(path)) if "add_parameters" in namespace else namespace
    parameters = _parameters(own, name, api_version)
    return ProtocolSource(name, api_version, metadata, requirements, run, parameters)


def _parameters(namespace: Mapping[str, Any], name: str,
                api_version: tuple[int, int]) -> tuple[Parameter, ...]:
    """The runtime parameters ``add_parameters(parameters)`` defines, if the protocol has
    it; a wrong definition fails the load at its line, as in Opentrons."""
    define = namespace.get("add_parameters")
    if define is None:
        return ()
    line = define.__code__.co_firstlineno if hasattr(define, "__code__") else 1
    if not callable(define) or isinstance(define, type) or not _takes_one_argument(define):
        raise LocatedLoadError("add_parameters must be a function taking one argument, the "
                               "parameters to define", f"{name}:{line}")
    kind = _not_plain(define)
    if kind is not None:  # called, it would return at once, having defined nothing
        raise LocatedLoadError(f"add_parameters must be a plain def, not {kind}: called, it "
                               "would define no parameters", f"{name}:{line}")
    others = _more_parameters(define)
    if others:  # Opentrons refuses it, even when they have defaults (run may have them)
        raise LocatedLoadError("add_parameters must take exactly one parameter, the "
                               f"parameters to define; it also has {others}", f"{name}:{line}")
    from .parameters import ParameterContext  # only then: most protocols define none
    from .types import APIVersion

    context = ParameterContext(APIVersion(*api_version))
    try:
        define(context)
    except ProtocolError as exc:
        raise LocatedLoadError(str(exc), f"{name}:{_line_in(exc, name)}") from exc
    except KeyboardInterrupt as exc:
        raise LoadInterrupted(f"{name}:{_line_in(exc, name)}") from exc
    except SystemExit as exc:  # labrun is not ended by the protocol
        raise LocatedLoadError(exit_message(exc), f"{name}:{_line_in(exc, name)}") from exc
    except BaseException as exc:  # (its own BaseException too)
        raise LocatedLoadError(f"add_parameters raised {error_line(exc)}",
                               f"{name}:{_line_in(exc, name)}") from exc
    return context.defined


def _more_parameters(function: Callable[..., Any]) -> str:
    """The parameters ``function`` has beyond its first, in words (``q=1, *rest``); empty
    when it has just one (a lone ``*args`` counts as one)."""
    import inspect

    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # no signature to read: it bound one argument
        return ""
    return ", ".join(str(parameter) for parameter in parameters[1:])


def _def_line(function: Callable[..., Any], name: str) -> str:
    """``file:line`` of ``function``'s ``def``: in the protocol file, or in the user's
    module it was imported from; the file's first line if it has no code of its own."""
    code = getattr(function, "__code__", None)
    if not isinstance(code, types.CodeType):
        return f"{name}:1"
    return f"{code.co_filename}:{code.co_firstlineno}"


def _not_plain(run: Callable[..., Any]) -> str | None:
    """What makes ``run`` not a plain function, if anything: ``async def``, or a
    ``yield`` in it (a generator function)."""
    if type(run) is types.FunctionType:  # the common case, without importing inspect
        flags = run.__code__.co_flags
    else:
        import inspect

        if inspect.iscoroutinefunction(run):
            return "async def"
        if inspect.isgeneratorfunction(run) or inspect.isasyncgenfunction(run):
            return "a generator function (it has yield)"
        return None
    if flags & (_CO_COROUTINE | _CO_ASYNC_GENERATOR):
        return "async def"
    if flags & _CO_GENERATOR:
        return "a generator function (it has yield)"
    return None


def _takes_one_argument(run: Callable[..., Any]) -> bool:
    """True when ``run(ctx)`` binds (inspect is imported only for an unusual ``run``)."""
    if type(run) is types.FunctionType:
        code = run.__code__
        if code.co_argcount == 1 and not code.co_kwonlyargcount:
            return True  # one positional parameter (with *args, **kwargs or not)
    import inspect

    try:
        inspect.signature(run).bind(object())
    except TypeError:
        return False
    return True


_CO_GENERATOR = 0x20  # inspect.CO_GENERATOR
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE
_CO_ASYNC_GENERATOR = 0x200  # inspect.CO_ASYNC_GENERATOR


_CODING = re.compile(rb"[ \t\f]*#.*?coding[:=][ \t]*([-\w.]*)")
"""A PEP 263 coding comment (on line 1 or 2 of a file), and the encoding it names."""
_BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte order mark."""


def protocol_text(data: bytes, name: str) -> str:
    """The file's text: UTF-8, or the encoding its coding comment declares (PEP 263)."""
    try:
        head = data.split(b"\n", 2)[:2]
        if any(b"coding" in line for line in head):  # a PEP 263 comment, maybe
            import tokenize  # 1 ms of start-up, for the rare file that needs it

            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        else:  # what detect_encoding answers for a file with no coding comment
            encoding = "utf-8-sig" if data.startswith(_BOM) else "utf-8"
        return data.decode(encoding)
    except SyntaxError as exc:  # an unknown encoding in the coding comment, or one not UTF-8
        if data.startswith(_BOM) and exc.msg.startswith("encoding problem"):  # Python's words
            line, named = _coding_comment(data)
            raise LocatedLoadError(
                f"syntax error: the file begins with a UTF-8 byte order mark, but its coding "
                f"comment names {named!r}; remove the coding comment (or save the file as "
                f"{named} without the mark)", f"{name}:{line}") from None
        raise LocatedLoadError(f"syntax error: {exc.msg}", f"{name}:{exc.lineno or 1}") from None
    except LookupError:  # a codec that is no text encoding (rot13, base64), as Python says
        line, _ = _coding_comment(data)
        raise LocatedLoadError(f"syntax error: the coding comment names {encoding!r}, which "
                               "is not a text encoding; save the file as UTF-8",
                               f"{name}:{line}") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        encoding = "UTF-8" if exc.encoding.startswith("utf-8") else exc.encoding
        raise LocatedLoadError(
            f"the protocol file is not {encoding} text: byte 0x{data[exc.start]:02x} "
            f"cannot be read; save the file as UTF-8", f"{name}:{line}") from None


def _coding_comment(data: bytes) -> tuple[int, str]:
    """The line of the file's coding comment (1 or 2) and the encoding it names, as
    written there."""
    first, _, rest = data.removeprefix(_BOM).partition(b"\n")
    line, found = 1, _CODING.match(first)
    if found is None:
        line, found = 2, _CODING.match(rest.partition(b"\n")[0])
    return line, found.group(1).decode("ascii") if found is not None else ""


def _last_binding(body: list[ast.stmt], target: str) -> int | None:
    """The line of the last top-level statement that binds ``target`` (also inside
    ``if``/``try``/``with``/loops, not inside a function or class), or None."""
    line = None
    for node in body:
        names: list[str] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).split(".")[0] for a in node.names]
        else:
            blocks = [getattr(node, f, []) for f in ("body", "orelse", "finalbody")]
            blocks += [h.body for h in getattr(node, "handlers", [])]
            for block in blocks:
                line = _last_binding(block, target) or line
        if target in names:
            line = node.lineno
    return line


def _compile(text: str, name: str) -> types.CodeType:
    """The file's code, with its own ``from __future__`` imports only (not this module's:
    a protocol's annotations are evaluated, as Python and Opentrons evaluate them); a
    syntax error (the parser's or the compiler's) names its line."""
    try:
        return compile(text, name, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: a null byte, on Python 3.11
        line = exc.lineno if isinstance(exc, SyntaxError) else None
        if line is None:  # a null byte: Python does not say where
            line = text.count("\n", 0, text.find("\0")) + 1 if "\0" in text else 1
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise LocatedLoadError(f"syntax error: {message}", f"{name}:{line}") from None


def _parse(text: str, name: str = "<protocol>") -> ast.Module:
    """The syntax tree of ``text``, which compiled: its warnings (an invalid escape in a
    string) were given then, with their lines, and are not given again."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text, filename=name)


_STORES = frozenset({opcode.opmap["STORE_NAME"], opcode.opmap["STORE_GLOBAL"]})
_EXTENDED_ARG = opcode.opmap["EXTENDED_ARG"]
_LITERAL_NAMES = ("metadata", "requirements")
_AT_LINE_START = re.compile(r"^(?:metadata|requirements)\b", re.MULTILINE)


def _literal_dicts(text: str, code: types.CodeType,
                   name: str) -> dict[str, tuple[dict[str, Any], int]]:
    """``metadata`` and ``requirements``, as the top-level statements ``metadata = {...}``
    give them (the last of each), with their lines; nothing is run.

    Only those statements are parsed, not the whole file (a protocol with its data written
    into it took tens of milliseconds to parse) when the lines where the module's code
    assigns either name are the lines that start with one. Anything else (``x = 1; metadata
    = ...``, a one-line ``if``, a continued line, such a line in a string, code after a
    ``while True:`` that the compiler dropped) parses the whole file.
    """
    if not any(key in code.co_names for key in _LITERAL_NAMES):
        return {}  # no statement names them
    if "\r" in text:  # lines as the compiler counts them
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    starts = {text.count("\n", 0, match.start()) + 1
              for match in _AT_LINE_START.finditer(text)}
    stored = _lines_storing(code, _LITERAL_NAMES)
    if not stored or stored != starts:  # or code the compiler dropped as unreachable
        return _literals_in(_parse(text, name).body, name)
    rows = text.split("\n")
    body: list[ast.stmt] = []
    for line in sorted(stored):
        statement = _statement_at(rows, line)
        if statement is None:
            return _literals_in(_parse(text, name).body, name)
        body.extend(statement)
    return _literals_in(body, name)


def _lines_storing(code: types.CodeType, names: tuple[str, ...]) -> set[int]:
    """The lines at which the module's own code assigns any of ``names``."""
    wanted = {code.co_names.index(n) for n in names if n in code.co_names}
    if not wanted:
        return set()
    raw, offsets, arg = code.co_code, [], 0
    for offset in range(0, len(raw), 2):
        op = raw[offset]
        arg = arg << 8 | raw[offset + 1]
        if op == _EXTENDED_ARG:
            continue
        if op in _STORES and arg in wanted:
            offsets.append(offset)
        arg = 0
    return {line for start, end, line in code.co_lines()
            if line is not None and any(start <= offset < end for offset in offsets)}


def _statement_at(rows: list[str], line: int) -> list[ast.stmt] | None:
    """The statement(s) that begin at ``line`` (1-based): the first run of lines from it
    that parses, numbered as in the file; None for a line that continues the one before
    it, or nothing that parses within 200 lines."""
    if line > 1 and rows[line - 2].endswith("\\"):
        return None
    for end in range(line, min(line + 200, len(rows)) + 1):
        try:
            module = _parse("\n".join(rows[line - 1:end]))
        except SyntaxError:
            continue
        return [ast.increment_lineno(node, line - 1) for node in module.body]
    return None


def _literals_in(body: list[ast.stmt], name: str) -> dict[str, tuple[dict[str, Any], int]]:
    found: dict[str, tuple[dict[str, Any], int]] = {}
    for node in body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in _LITERAL_NAMES):
            continue
        key = node.targets[0].id
        try:
            value = ast.literal_eval(node.value)
        except ValueError:
            raise LocatedLoadError(f"{key} must be a literal dict (no names or calls)",
                                   f"{name}:{node.lineno}") from None
        if not isinstance(value, dict):
            raise LocatedLoadError(f"{key} must be a dict", f"{name}:{node.lineno}")
        _check_entries(key, value, f"{name}:{node.lineno}")
        found[key] = (value, node.lineno)
    return found


_REQUIREMENTS_KEYS = ("apiLevel", "robotType")
"""The keys a ``requirements`` dict may have: Opentrons refuses a protocol with any other
(a misspelt ``robotType`` would otherwise pass unseen)."""


def _check_entries(key: str, value: dict[Any, Any], where: str) -> None:
    """Refuse a key of ``requirements`` that Opentrons does not know, as it does when it
    reads the protocol. (``metadata`` takes any keys; labrun takes any literal as their
    values, where Opentrons takes only text.)"""
    unknown = [entry for entry in value if entry not in _REQUIREMENTS_KEYS]
    if key == "requirements" and unknown:
        raise LocatedLoadError(
            f"requirements has no key {unknown[0]!r}; its keys are 'apiLevel' and "
            "'robotType' (put anything else in metadata)", where)


def _api_level(name: str, metadata: Mapping[str, Any], meta_line: int,
               requirements: Mapping[str, Any], req_line: int) -> tuple[int, int]:
    in_meta, in_req = metadata.get("apiLevel"), requirements.get("apiLevel")
    if "apiLevel" in metadata and "apiLevel" in requirements:  # even the same: Opentrons
        # refuses it (and None is given, as Opentrons takes it: a value that is no text)
        said = (f"apiLevel is {in_meta!r} in metadata but {in_req!r} in requirements"
                if in_meta != in_req else "apiLevel is in both metadata and requirements")
        raise LocatedLoadError(f"{said}; give it once, in one of them", f"{name}:{req_line}")
    level, line = ((in_req, req_line) if "apiLevel" in requirements
                   else (in_meta, meta_line))
    if "apiLevel" not in metadata and "apiLevel" not in requirements:
        # The newest level, as a protocol written now follows Opentrons' documentation,
        # which describes the newest (Opentrons' own error gives '2.0' for an instance); an
        # older protocol keeps the behaviour it was written for only at its own level.
        raise LocatedLoadError(
            f"no apiLevel: add metadata = {{'apiLevel': '{NEWEST_LEVEL}'}} (or requirements) "
            "to the protocol, or the level an older protocol was written for; labrun "
            f"supports {SUPPORTED}", f"{name}:1")
    if not isinstance(level, str):
        # As in Opentrons: a number would read 2.20 as 2.2.
        raise LocatedLoadError(f"apiLevel must be a string like '2.15', not {level!r}; "
                               f"labrun supports {SUPPORTED}", f"{name}:{line}")
    if level.strip() == "1":  # as APIv1 protocols could declare it
        raise LocatedLoadError(_api_v1("apiLevel '1'"), f"{name}:{line}")
    parts = level.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise LocatedLoadError(f"apiLevel {level!r} is not a version like '2.15'; "
                               f"labrun supports {SUPPORTED}", f"{name}:{line}")
    version = (int(parts[0]), int(parts[1]))
    if version[0] == 1:  # Opentrons' software before 4.0 took '1.0' for API version 1
        raise LocatedLoadError(_api_v1(f"apiLevel {level}"), f"{name}:{line}")
    if not MIN_API <= version <= MAX_API:
        raise LocatedLoadError(f"apiLevel {level} is not supported; labrun supports "
                               f"{SUPPORTED}", f"{name}:{line}")
    return version


_V1_MODULES = frozenset({"robot", "instruments", "modules", "containers", "labware"})
"""What an API version 1 protocol imports from ``opentrons`` (Opentrons' own test, with
``labware``, which API v2 has only as ``opentrons.protocol_api.labware``)."""
_V2_MODULES = frozenset({"protocol_api", "types", "protocols", "APIVersion", "execute",
                         "simulate"})
"""What API v2 code imports from ``opentrons`` (a script at the top level too:
``simulate.get_protocol_api("2.15")``)."""


def _api_v1(why: str) -> str:
    return (f"the protocol is written for Opentrons' Python API version 1 ({why}), which "
            "labrun, like Opentrons' current software, does not run; port it to API v2: "
            f"def run(protocol) and an apiLevel in metadata (the newest is '{NEWEST_LEVEL}')")


def _refuse_api_v1(text: str, name: str) -> None:
    """Refuse, at its first ``opentrons`` import, a protocol with no apiLevel that is
    written for API version 1: it imports ``robot``, ``instruments``... from ``opentrons``,
    or imports only such names and has no ``run`` function (its code is at the top level)."""
    if "opentrons" not in text:
        return
    body = _parse(text, name).body
    imported: list[tuple[int, str]] = []  # top level only, as Opentrons looks
    for node in body:
        if isinstance(node, ast.ImportFrom) and node.module == "opentrons" and not node.level:
            imported += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("opentrons."):
            imported.append((node.lineno, (node.module or "").split(".")[1]))
        elif isinstance(node, ast.Import):
            imported += [(node.lineno, alias.name.partition(".")[2].split(".")[0])
                         for alias in node.names if alias.name.split(".")[0] == "opentrons"]
    v1 = [(line, module) for line, module in imported if module in _V1_MODULES]
    if v1:
        names = ", ".join(dict.fromkeys(module for _, module in v1))
        raise LocatedLoadError(_api_v1(f"it imports {names} from opentrons"),
                               f"{name}:{v1[0][0]}")
    if (imported and not any(module in _V2_MODULES for _, module in imported)
            and _last_binding(body, "run") is None):
        raise LocatedLoadError(_api_v1("it has no run function: its code is at the top "
                                       "level"), f"{name}:{imported[0][0]}")


def _execute(code: types.CodeType, name: str, file: str) -> dict[str, Any]:
    scope_builtins = dict(vars(builtins))
    scope_builtins["__import__"] = _opentrons_import
    # __name__ is "builtins", as in Opentrons (it runs protocols in a bare namespace): a
    # module that is in sys.modules, so @dataclass works, and `if __name__ == "__main__"`
    # blocks stay off.
    namespace: dict[str, Any] = {"__name__": "builtins", "__file__": file,
                                 "__builtins__": scope_builtins}
    try:
        exec(code, namespace)
    except SystemExit as exc:
        raise LocatedLoadError(exit_message(exc), f"{name}:{_line_in(exc, name)}") from exc
    except KeyboardInterrupt as exc:
        raise LoadInterrupted(f"{name}:{_line_in(exc, name)}") from exc
    except BaseException as exc:  # (its own BaseException too)
        line = _line_in(exc, name)
        raise LocatedLoadError(f"the protocol's top level raised {error_line(exc)}",
                               f"{name}:{line}") from exc
    return namespace


def _line_in(exc: BaseException, name: str) -> int:
    tb = exc.__traceback__
    line = 1
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _module(name: str, doc: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name, doc)
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


def _opentrons_modules() -> dict[str, types.ModuleType]:
    """The ``opentrons`` module paths protocols import, mapped to labrun's objects."""
    from . import labware as labrun_labware
    from . import types as labrun_types
    from .context import ProtocolContext
    from .instrument import InstrumentContext

    package = sys.modules[__name__.rsplit(".", 1)[0]]
    api_version = labrun_types.APIVersion
    contexts = _module("opentrons.protocol_api.contexts", "labrun's protocol contexts",
                       ProtocolContext=ProtocolContext, InstrumentContext=InstrumentContext,
                       Labware=labrun_labware.Labware, Well=labrun_labware.Well)
    support_types = _module("opentrons.protocols.api_support.types", "labrun's API types",
                            APIVersion=api_version)
    from .errors import APIVersionError, UnsupportedAPIError

    util = _module("opentrons.protocols.api_support.util", "labrun's API errors",
                   APIVersionError=APIVersionError, UnsupportedAPIError=UnsupportedAPIError)
    definitions = _module("opentrons.protocols.api_support.definitions",
                          "labrun's API versions",
                          MAX_SUPPORTED_VERSION=package.MAX_SUPPORTED_VERSION,
                          MIN_SUPPORTED_VERSION=package.MIN_SUPPORTED_VERSION)
    support = _module("opentrons.protocols.api_support", "labrun's API support",
                      types=support_types, util=util, definitions=definitions)
    from .errors import RuntimeParameterRequiredError
    from .parameters import CSVParameter, ParameterChoice, Value

    parameter_types = _module("opentrons.protocols.parameters.types",
                              "labrun's runtime parameter types",
                              ParameterChoice=ParameterChoice, PrimitiveAllowedTypes=Value,
                              UserFacingTypes=Value | CSVParameter)
    parameter_errors = _module("opentrons.protocols.parameters.exceptions",
                               "labrun's runtime parameter errors",
                               RuntimeParameterRequired=RuntimeParameterRequiredError)
    parameters = _module("opentrons.protocols.parameters", "labrun's runtime parameters",
                         types=parameter_types, exceptions=parameter_errors)
    protocols = _module("opentrons.protocols", "labrun's protocol support",
                        api_support=support, parameters=parameters)
    top = _module("opentrons", "labrun's stand-in for the opentrons package",
                  protocol_api=package, types=labrun_types, protocols=protocols,
                  APIVersion=api_version)
    return {
        "opentrons": top,
        "opentrons.protocol_api": package,
        "opentrons.types": labrun_types,
        "opentrons.protocol_api.labware": labrun_labware,
        "opentrons.protocol_api.contexts": contexts,
        "opentrons.protocol_api.protocol_context": _module(
            "opentrons.protocol_api.protocol_context", "labrun's ProtocolContext",
            ProtocolContext=ProtocolContext),
        "opentrons.protocol_api.instrument_context": _module(
            "opentrons.protocol_api.instrument_context", "labrun's InstrumentContext",
            InstrumentContext=InstrumentContext),
        "opentrons.protocol_api.module_contexts": _module(
            "opentrons.protocol_api.module_contexts", "labrun's module contexts",
            __getattr__=_module_context),
        "opentrons.protocol_api.disposal_locations": _module(
            "opentrons.protocol_api.disposal_locations", "labrun's trash bin",
            TrashBin=labrun_labware.TrashBin, DisposalOffset=labrun_labware.DisposalOffset),
        "opentrons.protocols": protocols,
        "opentrons.protocols.api_support": support,
        "opentrons.protocols.api_support.types": support_types,
        "opentrons.protocols.api_support.util": util,
        "opentrons.protocols.api_support.definitions": definitions,
        "opentrons.protocols.parameters": parameters,
        "opentrons.protocols.parameters.types": parameter_types,
        "opentrons.protocols.parameters.exceptions": parameter_errors,
    }


def _module_context(name: str) -> Any:
    """``opentrons.protocol_api.module_contexts.X``: imported at its first use."""
    from . import MODULE_CONTEXTS, modules

    if name in MODULE_CONTEXTS:
        return getattr(modules, name)
    raise AttributeError(f"module 'opentrons.protocol_api.module_contexts' has no "
                         f"attribute {name!r}")


_MODULES: dict[str, types.ModuleType] = {}


def opentrons_module(name: str) -> types.ModuleType | None:
    """labrun's module for the ``opentrons`` module path ``name``, if it has one: what
    ``import opentrons.protocol_api.contexts as c`` finds as the package's attribute."""
    if not _MODULES:
        _MODULES.update(_opentrons_modules())
    return _MODULES.get(name)

NOT_PROVIDED: dict[str, str] = {
    "WasteChute": "waste chutes (a Flex's)",
    "MagneticBlockContext": "magnetic blocks (a Flex's)",
    "AbsorbanceReaderContext": "absorbance plate readers (a Flex's)",
    "FlexStackerContext": "Flex stackers",
    "RobotContext": "the robot's own motion commands (ctx.robot)",
    "MIN_SUPPORTED_VERSION_FOR_FLEX": "Flex robots",
    "LiquidClass": "liquid classes",
    "Task": "concurrent tasks",
    "create_protocol_context": "protocol contexts made outside a run",
    "ProtocolEngineCoreRequiredError": "Opentrons' protocol engine errors",
    **dict.fromkeys(("PLUNGER_BLOWOUT", "PLUNGER_TOP", "PLUNGER_BOTTOM", "PLUNGER_DROPTIP",
                     "ASPIRATE_ACTION", "DISPENSE_ACTION", "BLOWOUT_ACTION"),
                    "liquid class plunger positions and actions"),
}
"""Names of ``opentrons.protocol_api`` for what labrun does not do: an import or a use of
one says so, rather than that a module is missing."""


def not_provided(qualified: str) -> str | None:
    """What an import or a use of ``qualified`` (``opentrons.protocol_api.COLUMN``) is
    told, if it names what labrun does not do."""
    what = NOT_PROVIDED.get(qualified.rpartition(".")[2])
    return f"{qualified}: {what} are not supported by labrun" if what else None


def _opentrons_import(name: str, globals: Mapping[str, Any] | None = None,
                      locals: Mapping[str, Any] | None = None,
                      fromlist: tuple[str, ...] | list[str] | None = (), level: int = 0) -> Any:
    """``__import__`` for protocol files: opentrons names resolve to labrun's modules."""
    if level == 0 and (name == "opentrons" or name.startswith("opentrons.")):
        if not _MODULES:
            _MODULES.update(_opentrons_modules())
        if name not in _MODULES:
            raise _unprovided(name)
        module = _MODULES[name]
        for item in fromlist or ():
            if item != "*" and not hasattr(module, item):
                said = not_provided(f"{name}.{item}")
                raise ImportError(said) if said else _unprovided(f"{name}.{item}")
        return module if fromlist else _MODULES["opentrons"]
    if level == 0 and (name == "os" or (name.startswith("os.") and not fromlist)):
        return _guarded_os()
    return builtins.__import__(name, globals, locals, fromlist or (), level)


def _guarded_os() -> types.ModuleType:
    """``os`` for protocols: the same module but ``_exit``, which ends only the run."""
    if "os" not in _GUARDED:
        guarded = types.ModuleType("os", os.__doc__)
        vars(guarded).update(vars(os))
        vars(guarded)["_exit"] = _protocol_exit
        _GUARDED["os"] = guarded
    return _GUARDED["os"]


def _protocol_exit(code: int) -> None:
    raise ProtocolExit(code)


_GUARDED: dict[str, types.ModuleType] = {}


def _unprovided(name: str) -> ImportError:
    if name.split(".")[:2] in (["opentrons", "execute"], ["opentrons", "simulate"]):
        return ImportError(f"labrun does not provide {name!r} (get_protocol_api): a protocol "
                           "file gets its context as run(ctx)'s argument, and a script of "
                           "its own opens one with labrun's protocol_api.open_context()",
                           name=name)
    provided = ", ".join(sorted(n for n in _MODULES if n != "opentrons"))
    return ImportError(f"labrun runs Opentrons protocols but does not provide {name!r}; "
                       f"it provides {provided}", name=name)
