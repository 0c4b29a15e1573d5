"""Make one mistake at a time in real protocols, and check what labrun says of each.

Run ``python benchmarks/mistake_sweep.py [PATH ...] [--jobs N] [--limit N]`` (PATHs as
``rehearsal_sweep.py`` takes them; default: the ``examples/`` folder). Each protocol that
simulates to success as it is gets each mistake below, made at the first place in its
source where it can be made, and is simulated again (``labrun simulate --json``):

- a well that does not exist (``plate['A1']`` becomes ``plate['Q99']``);
- a volume no pipette holds (the first number given to ``aspirate`` or ``dispense``);
- a misspelt labware load name, and a misspelt instrument name;
- an apiLevel that does not exist (``2.99``);
- a misspelt pipette method (``.aspirat(``);
- a syntax error (a stray ``)`` opening the first statement of ``run``).

Each mistaken run must fail (exit status 1 or 2) with exactly one ``error:`` line on
standard error and no traceback; that line must name the protocol's ``file:line`` of the
statement the mistake is in, and what was mistaken (the well, the volume, the name); its
JSON document must say ``failed`` with the same line. A mistake in code the protocol
never runs (a branch it does not take) lets it succeed: it is counted as not reached.

It prints a line for each mistake that was not reported as it must be, then the counts
for each kind. It is a check, not a timing.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from rehearsal_sweep import ROOT, protocols, simulate

WELL = re.compile(r"^[A-H][0-9]{1,2}$")
COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.While,
            ast.With, ast.Try)

Mistake = tuple[str, int, int, str]
"""The protocol's new source, the first and last line of the statement the mistake is
in, and the word the error must name ('' for none)."""


def _statement_lines(tree: ast.Module, node: ast.AST) -> tuple[int, int]:
    """The first and last line of the smallest simple statement that holds ``node``."""
    line = getattr(node, "lineno", 0)
    spans = [(candidate.lineno, candidate.end_lineno or candidate.lineno)
             for candidate in ast.walk(tree)
             if isinstance(candidate, ast.stmt) and not isinstance(candidate, COMPOUND)
             and candidate.lineno <= line <= (candidate.end_lineno or candidate.lineno)]
    return min(spans, key=lambda span: span[1] - span[0], default=(line, line))


def _replace(source: str, node: ast.expr, text: str) -> str:
    """``source`` with ``node`` (on one line) replaced by ``text``."""
    lines = source.splitlines(keepends=True)
    raw = lines[node.lineno - 1].encode()
    assert node.end_col_offset is not None
    lines[node.lineno - 1] = (raw[:node.col_offset] + text.encode()
                              + raw[node.end_col_offset:]).decode()
    return "".join(lines)


def _calls(tree: ast.Module, *names: str) -> list[ast.Call]:
    found = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr in names]
    return sorted(found, key=lambda node: (node.lineno, node.col_offset))


def _first_constant_arg(call: ast.Call, kind: type) -> ast.Constant | None:
    if call.args and isinstance(call.args[0], ast.Constant) and type(call.args[0].value) is kind:
        return call.args[0]
    return None


def missing_well(source: str, tree: ast.Module) -> Mistake | None:
    subscripts = sorted((node for node in ast.walk(tree) if isinstance(node, ast.Subscript)
                         and isinstance(node.slice, ast.Constant)
                         and isinstance(node.slice.value, str) and WELL.match(node.slice.value)
                         and node.slice.lineno == node.slice.end_lineno),
                        key=lambda node: (node.lineno, node.col_offset))
    if not subscripts:
        return None
    node = subscripts[0]
    assert isinstance(node.slice, ast.Constant)
    return _replace(source, node.slice, "'Q99'"), *_statement_lines(tree, node), "Q99"


def huge_volume(source: str, tree: ast.Module) -> Mistake | None:
    for call in _calls(tree, "aspirate", "dispense"):
        for kind in (int, float):
            arg = _first_constant_arg(call, kind)
            if arg is not None and isinstance(arg.value, (int, float)) and arg.value > 0:
                return (_replace(source, arg, "99999"), *_statement_lines(tree, call), "99999")
    return None


def _misspelt_name(method: str) -> Callable[[str, ast.Module], Mistake | None]:
    def make(source: str, tree: ast.Module) -> Mistake | None:
        for call in _calls(tree, method):
            arg = _first_constant_arg(call, str)
            if arg is not None and isinstance(arg.value, str) and arg.lineno == arg.end_lineno:
                name = f"{arg.value}_typo"
                return (_replace(source, arg, repr(name)), *_statement_lines(tree, call), name)
        return None
    return make


def unknown_api_level(source: str, tree: ast.Module) -> Mistake | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (isinstance(key, ast.Constant) and key.value == "apiLevel"
                        and isinstance(value, ast.Constant) and isinstance(value.value, str)):
                    return (_replace(source, value, "'2.99'"), *_statement_lines(tree, value),
                            "2.99")
    return None


def misspelt_method(source: str, tree: ast.Module) -> Mistake | None:
    calls = _calls(tree, "aspirate")
    if not calls or not isinstance(calls[0].func, ast.Attribute):
        return None
    call = calls[0]
    lines = source.splitlines(keepends=True)
    line = call.func.end_lineno or call.lineno
    if lines[line - 1].count(".aspirate(") != 1:
        return None
    lines[line - 1] = lines[line - 1].replace(".aspirate(", ".aspirat(")
    return "".join(lines), *_statement_lines(tree, call), "aspirat"


def syntax_error(source: str, tree: ast.Module) -> Mistake | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "run" and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                if len(node.body) == 1:
                    return None
                first = node.body[1]  # after the docstring
            lines = source.splitlines(keepends=True)
            text = lines[first.lineno - 1]
            indent = len(text) - len(text.lstrip())
            lines[first.lineno - 1] = text[:indent] + ") " + text[indent:]
            return "".join(lines), first.lineno, first.lineno, ""
    return None


MISTAKES: dict[str, Callable[[str, ast.Module], Mistake | None]] = {
    "a well that does not exist": missing_well,
    "a volume no pipette holds": huge_volume,
    "a misspelt labware": _misspelt_name("load_labware"),
    "a misspelt instrument": _misspelt_name("load_instrument"),
    "an apiLevel that does not exist": unknown_api_level,
    "a misspelt method": misspelt_method,
    "a syntax error": syntax_error,
}


def judge(err: str, document: dict[str, object] | None, path: Path, first: int, last: int,
          word: str) -> str | None:
    """What is wrong with what labrun said of one mistake (None: nothing)."""
    if "Traceback" in err or "internal error" in err:
        return "a traceback or an internal error: " + err.strip().splitlines()[-1][:160]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    if len(errors) != 1:
        return f"{len(errors)} error lines: {err.strip()[:200]!r}"
    line = errors[0]
    where = re.search(re.escape(path.name) + r":(\d+)", line)
    if where is None or not first <= int(where.group(1)) <= last:
        return f"does not name {path.name}:{first}: {line[:200]}"
    if word and word.lower() not in line.lower():
        return f"does not name {word!r}: {line[:200]}"
    if document is not None and document.get("status") != "failed":
        return f"its JSON says {document.get('status')}"
    return None


def check(protocol: Path, labware: Path | None) -> dict[str, str | None] | None:
    """Each mistake's verdict: None (reported as it must be), 'not reached', 'not made'
    or the problem; None when the protocol does not succeed as it is."""
    plain, _ = simulate(protocol, labware, [])
    if plain is None or plain.get("status") != "succeeded":
        return None
    source = protocol.read_text()
    tree = ast.parse(source)
    verdicts: dict[str, str | None] = {}
    # beside the protocol, so that the files it reads by their relative paths are there
    mistaken = protocol.with_name(f".mistaken-{protocol.name}")
    try:
        for name, make in MISTAKES.items():
            mistake = make(source, tree)
            if mistake is None:
                verdicts[name] = "not made"
                continue
            text, first, last, word = mistake
            mistaken.write_text(text)
            document, err = simulate(mistaken, labware, [])
            if document is not None and document.get("status") == "succeeded":
                verdicts[name] = "not reached"
                continue
            verdicts[name] = judge(err, document, mistaken, first, last, word)
    finally:
        mistaken.unlink(missing_ok=True)
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "examples"])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--limit", type=int, default=0, help="at most this many protocols")
    args = parser.parse_args()
    found = list(protocols(args.paths))
    if args.limit:
        found = found[:args.limit]
    made: Counter[str] = Counter()
    reported: Counter[str] = Counter()
    unreached: Counter[str] = Counter()
    swept = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = pool.map(lambda p: check(*p), found)
        for (protocol, _), verdicts in zip(found, results, strict=True):
            if verdicts is None:
                continue
            swept += 1
            for name, verdict in verdicts.items():
                if verdict == "not made":
                    continue
                made[name] += 1
                if verdict == "not reached":
                    unreached[name] += 1
                elif verdict is None:
                    reported[name] += 1
                else:
                    print(f"{protocol}: {name}: {verdict}", flush=True)
    print(f"{len(found)} protocols found, {swept} that succeed as they are")
    for name in MISTAKES:
        reached = made[name] - unreached[name]
        print(f"  {name}: reported as it must be {reported[name]}/{reached} "
              f"(made {made[name]}, not reached {unreached[name]})")


if __name__ == "__main__":
    main()
