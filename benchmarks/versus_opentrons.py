"""labrun's simulator beside Opentrons' own, paired in one run on this machine (issue 15).

Run ``python benchmarks/versus_opentrons.py --opentrons PATH [FOLDER ...]``, where PATH is
an ``opentrons_simulate`` (Opentrons' package installed in a Python 3.10 environment of
its own: its module loading fails on 3.11). Each protocol is run as a whole process by
both simulators in turn, ``--repeats`` times (labrun first, then Opentrons, alternating,
so that a machine that slows down slows both), and the medians are compared. labrun
writes its ``--json`` document and Opentrons its run log, each what a script reads:

- with no FOLDER: the 96-transfer protocol and the generated 10,000-command protocol
  that ``floor.py`` measures;
- each FOLDER: a protocol folder (one ``*.py`` protocol file, and a ``labware/`` folder
  of custom labware if it has one), or a folder of such folders, of which ``--sample N``
  takes N at random (``--seed``).

A protocol that fails in either simulator is listed and left out of the totals. Printed:
the wall time and peak RSS of each, the speed-up per protocol, and over all protocols run
by both the total speed-up (dominated by the largest) and the median one. The figures say
how the two compare here and now; stored times from another machine do not.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import throughput
from floor import labrun, measure
from protocols import PROTOCOL_96


def protocol_file(folder: Path) -> Path | None:
    """The one protocol file of a protocol folder (``protocol.py`` if there are several)."""
    named = folder / "protocol.py"
    if named.is_file():
        return named
    files = sorted(folder.glob("*.py"))
    return files[0] if len(files) == 1 else None


def label(protocol: Path) -> str:
    """How a protocol is named in the table: its folder's name, or its file's."""
    return protocol.parent.name if protocol.name == "protocol.py" else protocol.name


def protocols(folders: list[Path], sample: int | None, seed: int) -> list[Path]:
    """The protocol files the folders name, sampled if asked."""
    found: list[Path] = []
    for folder in folders:
        if folder.is_file():
            found.append(folder)
            continue
        own = protocol_file(folder)
        if own is not None:
            found.append(own)
            continue
        found += [p for sub in sorted(folder.iterdir()) if sub.is_dir()
                  if (p := protocol_file(sub)) is not None]
    if sample is not None and sample < len(found):
        found = sorted(random.Random(seed).sample(found, sample))
    return found


def paired(protocol: Path, opentrons: str, repeats: int) -> tuple[float, float, float, float]:
    """Median wall seconds and peak RSS (MB) of labrun and of Opentrons on ``protocol``;
    raises ``RuntimeError`` naming the simulator that failed on it."""
    labware = protocol.parent / "labware"
    own = labrun("simulate", str(protocol), "--json")
    theirs = [opentrons, str(protocol)]
    if labware.is_dir():
        own += ["--labware-dir", str(labware)]
        theirs += ["-L", str(labware)]
    measure(own)  # bytecode caches written
    ours: list[tuple[float, float]] = []
    others: list[tuple[float, float]] = []
    for _ in range(repeats):
        for argv, runs, name in ((own, ours, "labrun"), (theirs, others, "Opentrons")):
            wall, _, rss, code = measure(argv, cwd=protocol.parent)
            if code != 0:
                raise RuntimeError(f"{name} exited with {code}")
            runs.append((wall, rss))
    return (statistics.median(w for w, _ in ours), statistics.median(r for _, r in ours),
            statistics.median(w for w, _ in others), statistics.median(r for _, r in others))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path, metavar="FOLDER")
    parser.add_argument("--opentrons", required=True, metavar="PATH",
                        help="Opentrons' opentrons_simulate")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample", type=int, metavar="N")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        if args.folders:
            files = protocols(args.folders, args.sample, args.seed)
        else:
            files = [Path(name) / "transfer_96.py", Path(name) / "generated_10k.py"]
            files[0].write_text(PROTOCOL_96)
            files[1].write_text(throughput.GENERATED % throughput.N_CYCLES)
        width = max((len(label(f)) for f in files), default=0)
        print(f"{'protocol':{width}}  labrun s (MB)   Opentrons s (MB)   speed-up  "
              f"(medians of {args.repeats})")
        both: list[tuple[float, float]] = []
        failed: list[str] = []
        for i, protocol in enumerate(files, 1):
            name = label(protocol)
            try:
                ours, our_rss, theirs, their_rss = paired(protocol, args.opentrons,
                                                          args.repeats)
            except RuntimeError as exc:
                failed.append(f"{name} ({exc})")
                print(f"{name:{width}}  left out: {exc}", flush=True)
                continue
            both.append((ours, theirs))
            print(f"{name:{width}}  {ours:7.3f} ({our_rss:4.0f})  {theirs:8.2f} "
                  f"({their_rss:4.0f})   x{theirs / ours:5.1f}   [{i}/{len(files)}]",
                  flush=True)
    if both:
        ours_total, theirs_total = sum(o for o, _ in both), sum(t for _, t in both)
        print(f"{len(both)} protocols run by both: labrun {ours_total:.2f} s, Opentrons "
              f"{theirs_total:.1f} s; x{theirs_total / ours_total:.1f} in total, median "
              f"x{statistics.median(t / o for o, t in both):.1f} per protocol")
    if failed:
        print(f"left out ({len(failed)}): " + "; ".join(failed))


if __name__ == "__main__":
    main()
