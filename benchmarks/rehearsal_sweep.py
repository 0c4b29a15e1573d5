"""Rehearse interruptions on a folder of protocols: the promise of a pause, checked on
real protocols rather than generated ones.

Run ``python benchmarks/rehearsal_sweep.py [PATH ...] [--jobs N]`` (default: the
``examples/`` folder). A PATH is a protocol file, a folder with a ``protocol.py`` (and
perhaps a ``labware/`` folder of custom definitions, as a protocol library's folders
have), or a folder of either. Each protocol is simulated (``labrun simulate --json``) once
as it is, then once for each rehearsal below, at fractions of its estimated duration:

- pauses: an immediate pause; an immediate pause with the door opened and closed during
  it (the resume before the door closes is refused); the door alone; a deferred pause;
  three immediate pauses. Each run must succeed with the same tip and liquid contacts
  (pick-ups, drops, aspirates, dispenses, blow-outs and touch-tips, their wells and
  volumes, in order), the same tips used and the same well volumes as the plain run;
- endings: a stop; an abort with the door open (the cleanup is skipped); a halt; a stop
  while paused; a stop with the door opening during its cleanup; a skipped delay and a
  halt while pausing. Each must end as asked (or succeed, if the protocol ended first),
  with no internal error, a record whose last event is its summary, and every tip
  dropped where the cleanup ran.

It prints a line for each protocol with a problem, then the counts. It is a check, not a
timing: the figures are how many protocols and rehearsals held.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTACTS = {"pickUpTip", "dropTip", "aspirate", "dispense", "blowOut", "touchTip"}
SHORTEST_S = 5.0  # a run shorter than this leaves no room between the rehearsals

Rehearsal = tuple[str, list[tuple[float, float, str]], str]
"""Its name, its ``--at`` actions (a fraction of the duration plus seconds, the action)
and how the run must end (``same``: succeeds with the plain run's contacts)."""

REHEARSALS: list[Rehearsal] = [
    ("immediate pause", [(0.13, 0, "pause-immediate"), (0.13, 40, "resume")], "same"),
    ("immediate pause, door meanwhile",
     [(0.5, 0, "pause-immediate"), (0.5, 5, "door-open"), (0.5, 6, "resume"),
      (0.5, 9, "door-close"), (0.5, 12, "resume")], "same"),
    ("door", [(0.77, 0, "door-open"), (0.77, 30, "door-close"), (0.77, 50, "resume")], "same"),
    ("deferred pause", [(0.61, 0, "pause"), (0.61, 60, "resume")], "same"),
    ("three immediate pauses",
     [(f, 0, "pause-immediate") for f in (0.21, 0.43, 0.66)]
     + [(f, 25, "resume") for f in (0.21, 0.43, 0.66)], "same"),
    ("stop", [(0.3, 0, "stop")], "stopped"),
    ("abort with the door open", [(0.5, 0, "door-open"), (0.55, 0, "abort")], "aborted"),
    ("halt", [(0.7, 0, "halt")], "halted"),
    ("stop while paused", [(0.4, 0, "pause-immediate"), (0.4, 10, "stop")], "stopped"),
    ("door during the stop's cleanup", [(0.85, 0, "stop"), (0.85, 0.5, "door-open")],
     "stopped"),
    ("halt while pausing",
     [(0.5, 0, "skip-delay"), (0.6, 0, "pause"), (0.6, 1, "halt")], "halted"),
]


def protocols(paths: list[Path]) -> Iterator[tuple[Path, Path | None]]:
    """Each protocol file under ``paths``, with its folder of custom labware, if any."""
    for path in paths:
        if path.is_file():
            yield path, None
        elif (path / "protocol.py").is_file():
            labware = path / "labware"
            yield path / "protocol.py", labware if labware.is_dir() else None
        elif path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_dir() or (child.suffix == ".py" and "def run(" in child.read_text(
                        errors="replace")):
                    yield from protocols([child])


def simulate(protocol: Path, labware: Path | None, at: list[str], record: Path | None = None
             ) -> tuple[dict[str, Any] | None, str]:
    """``labrun simulate --json`` with the ``--at`` actions ``at``: its document (None if
    it printed none) and its standard error."""
    argv = [sys.executable, "-m", "labrun.cli.main", "simulate", str(protocol.resolve()),
            "--json"]
    if labware is not None:
        argv += ["--labware-dir", str(labware.resolve())]
    for action in at:
        argv += ["--at", action]
    if record is not None:
        argv += ["--record", str(record)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600,
                          cwd=protocol.parent, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        return json.loads(done.stdout), done.stderr
    except ValueError:
        return None, done.stderr


def contacts(document: dict[str, Any]) -> list[tuple[str, Any, float]]:
    """The protocol's completed tip and liquid contacts, in order."""
    return [(c["type"], c["params"].get("well"), round(float(c["params"].get("volume") or 0), 3))
            for c in document.get("commands", [])
            if c.get("origin") == "protocol" and c.get("status") == "completed"
            and c.get("type") in CONTACTS]


def outcome(document: dict[str, Any]) -> tuple[Any, ...]:
    """What a pause must leave as it was: contacts, tips used, well volumes."""
    return contacts(document), document.get("tips_used"), document.get("well_volumes_ul")


def check(protocol: Path, labware: Path | None) -> tuple[str, list[str]] | None:
    """The protocol's problems under every rehearsal (None: it was not swept)."""
    plain, _ = simulate(protocol, labware, [])
    if plain is None or plain.get("status") != "succeeded":
        return None
    duration = float(plain["estimated_duration_s"])
    if duration < SHORTEST_S:
        return None
    problems = []
    with tempfile.TemporaryDirectory() as scratch:
        record = Path(scratch) / "record.jsonl"
        for name, actions, expected in REHEARSALS:
            at = [f"{duration * fraction + seconds:.3f}:{action}"
                  for fraction, seconds, action in actions]
            document, err = simulate(protocol, labware, at, record)
            problems += [f"{name}: {p}" for p in judge(document, err, expected, plain, record)]
    return str(protocol), problems


def judge(document: dict[str, Any] | None, err: str, expected: str, plain: dict[str, Any],
          record: Path) -> list[str]:
    """What is wrong with one rehearsed run."""
    if document is None:
        return [f"no JSON document: {err.strip()[-200:]}"]
    problems = [line for line in err.splitlines()
                if "Traceback" in line or "internal error" in line][:1]
    status = document.get("status")
    if expected == "same":
        if status != "succeeded":
            problems.append(f"ended {status}: {document.get('error') or document.get('reason')}")
        elif outcome(document) != outcome(plain):
            problems.append("its tip and liquid contacts differ from the plain run's")
        return problems
    if status not in (expected, "succeeded"):
        problems.append(f"ended {status}, not {expected}")
    events = record.read_text().splitlines()
    if not events or json.loads(events[-1]).get("event") != "summary":
        problems.append("its record does not end with the summary")
    if status in ("stopped", "aborted") and not document.get("cleanup_skipped"):
        problems += [f"the tip on the {mount} was not dropped though the cleanup ran"
                     for mount, tip in (document.get("tips_at_end") or {}).items()
                     if not tip.get("dropped")]
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "examples"])
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    found = list(protocols(args.paths))
    swept = held = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for result in pool.map(lambda p: check(*p), found):
            if result is None:
                continue
            swept += 1
            name, problems = result
            if problems:
                print(f"{name}: " + "; ".join(problems), flush=True)
            else:
                held += 1
    print(f"{len(found)} protocols found, {swept} swept ({len(REHEARSALS)} rehearsals each: "
          f"{sum(e == 'same' for *_, e in REHEARSALS)} pausing, "
          f"{sum(e != 'same' for *_, e in REHEARSALS)} ending); all held on {held}/{swept}")


if __name__ == "__main__":
    main()
