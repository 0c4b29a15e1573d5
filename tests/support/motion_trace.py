"""What the robot physically did, for comparing a paused run with its pause-free twin.

``TracingController`` is a simulated controller that keeps every motion as it happened
(start and end of each move, an interrupted move ending where it stopped), interleaved
with the run record's events, so the tip on each pipette is known at every motion.

``PhysicalTrace`` turns that into what the pause-safety invariant of docs/design.md §4 speaks
of, in deck coordinates of the nozzle:

- ``contacts``: every plunger stroke as (mount, tip, x, y, stroke mm), consecutive strokes
  of the same sign at the same place with the same tip merged (an aspirate finished
  after a pause is one contact);
- ``visits``: the wells each tip end went into, in order (given ``well_at``): a pause
  may enter a well again at once, never go back to an earlier one;
- ``floor_violations(twin)``: every place where a nozzle, or a tip end with a given tip,
  went lower at some (x, y) than in the twin run; where the twin never was at that
  (x, y) with that tip, lower than the lowest height at which the twin travelled. The
  robot's safe height (where parking travels) is allowed anywhere.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from engine.run import Run
from hardware.clock import Clock
from hardware.config import RobotConfig
from hardware.simulated import SimulatedController

XY_TOLERANCE = 0.05   # mm: a point this close (in x, y) to the twin's path is on it
Z_TOLERANCE = 0.01    # mm
SAMPLE_MM = 0.5       # sampling step along a move
CELL_MM = 5.0         # spatial index cell

Position = dict[str, float]
WellAt = Callable[[float, float, float], "str | None"]
"""The well a tip end at (x, y, z) is in, or None."""
TraceItem = tuple[str, Any, Any]


class TracingController(SimulatedController):
    """A simulated controller that appends ``("move", start, end)`` to ``trace``."""

    def __init__(self, config: RobotConfig, clock: Clock | None = None, *,
                 trace: list[TraceItem], homed: bool = True) -> None:
        super().__init__(config, clock, homed=homed)
        self.trace = trace

    async def move(self, target: Mapping[str, float], speed: float | None = None) -> None:
        start = self.position
        try:
            await super().move(target, speed)
        finally:
            self.trace.append(("move", start, self.position))

    async def home(self, axes: Sequence[str] | None = None) -> Position:
        start = self.position
        try:
            return await super().home(axes)
        finally:
            self.trace.append(("move", start, self.position))


class TracedController:
    """Any ``MotionController`` (a G-code driver on the emulator), with every motion kept.

    A finished move ends at its target; an interrupted one ends where the controller
    reports it stopped (the next ``stop_motion`` or ``read_position``).
    """

    def __init__(self, inner: Any, trace: list[TraceItem]) -> None:
        self.inner = inner
        self.trace = trace
        self._here: Position | None = None
        self._cut_from: Position | None = None  # start of a move cut off by a pause

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def move(self, target: Mapping[str, float], speed: float | None = None) -> None:
        if self._here is None:
            self._here = await self.inner.read_position()
        start = dict(self._here)
        try:
            await self.inner.move(target, speed)
        except BaseException:
            self._cut_from = start
            raise
        self._here = {**start, **target}
        self.trace.append(("move", start, dict(self._here)))

    async def home(self, axes: Sequence[str] | None = None) -> Position:
        start = self._here
        position: Position = await self.inner.home(axes)
        if start is not None:
            self.trace.append(("move", start, dict(position)))
        self._here = dict(position)
        return position

    async def stop_motion(self) -> Position:
        return self._stopped(await self.inner.stop_motion())

    async def read_position(self) -> Position:
        return self._stopped(await self.inner.read_position())

    def _stopped(self, position: Position) -> Position:
        if self._cut_from is not None:
            self.trace.append(("move", self._cut_from, dict(position)))
            self._cut_from = None
        self._here = dict(position)
        return position


def follow_record(run: Run, trace: list[TraceItem]) -> None:
    """Interleave the run record's events with the motions (subscribe before play)."""
    run.record.subscribe(lambda event: trace.append(("event", event, None)))


Piece = tuple[tuple[float, float, float], tuple[float, float, float]]
"""A straight piece of a path: start and end (x, y, z)."""

ENDING = {"stopping", "aborting", "failing", "halting", "failed", "stopped", "aborted",
          "halted"}


def protocol_items(trace: Sequence[TraceItem]) -> Iterator[TraceItem]:
    """The moves of ``trace`` and the record events of the protocol's commands, up to
    where the run's ending began (a failure, or an ending status); the events of the
    cleanup's commands that say so (their queued event) are left out."""
    for item in trace:
        kind, event, _ = item
        if kind == "event":
            if event["event"] == "failure" or (
                    event["event"] == "status" and event["status"] in ENDING):
                return
            if event["event"] != "command" or event.get("origin") == "cleanup":
                continue
        yield item


class PhysicalTrace:
    """Contacts and paths of one run, up to where its ending (stop, abort, ...) began."""

    def __init__(self, config: RobotConfig, trace: Sequence[TraceItem], *,
                 xy_decimals: int = 2, z_tolerance: float = Z_TOLERANCE,
                 well_at: WellAt | None = None) -> None:
        self.config = config
        self.well_at = well_at
        self.visits: dict[str, list[tuple[str | None, str]]] = defaultdict(list)
        """Each mount's (tip, well) in the order its tip end went into them (by
        ``well_at``), a well entered again at once counted once."""
        self.xy_decimals = xy_decimals
        self.z_tolerance = z_tolerance
        self.contacts: list[tuple[str, str | None, float, float, float]] = []
        # key (mount, tip) -> tip-end pieces; key (mount, None-nozzle) -> nozzle pieces
        self.tip_paths: dict[tuple[str, str | None], list[Piece]] = defaultdict(list)
        self.nozzle_paths: dict[str, list[Piece]] = defaultdict(list)
        self.safe: dict[tuple[str, str | None], float] = {}  # safe height of nozzle/tip end
        tips: dict[str, tuple[str, float] | None] = {m: None for m in config.mounts}
        queued: dict[int, dict[str, Any]] = {}
        for kind, first, second in protocol_items(trace):
            if kind == "event":
                event = first
                if event["status"] == "queued":
                    queued[event["id"]] = event
                elif event["status"] == "completed":
                    command = queued[event["id"]]
                    params = command["params"]
                    if command["type"] == "pickUpTip":
                        tips[params["mount"]] = (params["well"], params["tip_length"])
                    elif command["type"] == "dropTip":
                        tips[params["mount"]] = None
                continue
            self._add_move(first, second, tips)

    def _add_move(self, start: Position, end: Position,
                  tips: Mapping[str, tuple[str, float] | None]) -> None:
        for name, mount in self.config.mounts.items():
            ox, oy, oz = mount.offset
            a = (start["X"] + ox, start["Y"] + oy, start[mount.z_axis] + oz)
            b = (end["X"] + ox, end["Y"] + oy, end[mount.z_axis] + oz)
            tip = tips[name]
            tip_id, length = (tip[0], tip[1]) if tip is not None else (None, 0.0)
            stroke = end[mount.plunger_axis] - start[mount.plunger_axis]
            if abs(stroke) > 1e-6:
                self._add_contact(name, tip_id, a[0], a[1], stroke)
            if max(abs(a[i] - b[i]) for i in range(3)) < 1e-9:
                continue
            self.nozzle_paths[name].append((a, b))
            self.safe[(name, None)] = self.config.safe_height + oz
            self.safe[(name, tip_id)] = self.config.safe_height + oz - length
            self.tip_paths[(name, tip_id)].append(
                ((a[0], a[1], a[2] - length), (b[0], b[1], b[2] - length)))
            if self.well_at is not None:
                well = self.well_at(b[0], b[1], b[2] - length)
                visits = self.visits[name]
                if well is not None and (not visits or visits[-1] != (tip_id, well)):
                    visits.append((tip_id, well))

    def _add_contact(self, mount: str, tip: str | None, x: float, y: float,
                     stroke: float) -> None:
        x, y = round(x, self.xy_decimals), round(y, self.xy_decimals)
        if self.contacts:
            m, t, px, py, s = self.contacts[-1]
            if (m, t, px, py) == (mount, tip, x, y) and (s > 0) == (stroke > 0):
                self.contacts[-1] = (m, t, px, py, s + stroke)
                return
        self.contacts.append((mount, tip, x, y, stroke))

    def rounded_contacts(self, decimals: int = 3) -> list[tuple[str, str | None, float, float,
                                                                 float]]:
        """The contacts with strokes rounded (to 1 µm by default), for comparison."""
        return [(m, t, x, y, round(s, decimals)) for m, t, x, y, s in self.contacts]

    def floor_violations(self, twin: PhysicalTrace) -> list[str]:
        """Where this run went lower than ``twin`` (nozzles, and tip ends per tip)."""
        problems: list[str] = []
        for mount, pieces in self.nozzle_paths.items():
            problems += _below(pieces, twin.nozzle_paths.get(mount, []), f"{mount} nozzle",
                               self.safe[(mount, None)], self.z_tolerance)
        for (mount, tip), pieces in self.tip_paths.items():
            if tip is None:
                continue  # a bare nozzle: checked above
            where = f"{mount} tip end (tip {tip})"
            twin_pieces = twin.tip_paths.get((mount, tip), [])
            problems += _below(pieces, twin_pieces, where, self.safe[(mount, tip)],
                               self.z_tolerance)
        return problems


def _below(pieces: list[Piece], twin: list[Piece], where: str, safe_z: float,
           z_tolerance: float) -> list[str]:
    """Points of ``pieces`` lower than the lowest point of ``twin`` at the same (x, y)."""
    index: dict[tuple[int, int], list[Piece]] = defaultdict(list)
    travel_floor = math.inf
    for piece in twin:
        (x0, y0, z0), (x1, y1, z1) = piece
        if math.hypot(x1 - x0, y1 - y0) > XY_TOLERANCE:
            travel_floor = min(travel_floor, z0, z1)
        for cell in _cells(piece):
            index[cell].append(piece)
    known = set(twin)
    problems: list[str] = []
    previous_end: tuple[float, float, float] | None = None
    for piece in pieces:
        a, b = piece
        if piece in known:
            previous_end = b
            continue
        length = math.hypot(b[0] - a[0], b[1] - a[1])
        if length <= XY_TOLERANCE:  # vertical: only its lowest end can be lowest
            points = [b if b[2] < a[2] else a]
            if b[2] >= a[2] and previous_end == a:
                points = []  # going up from a point already checked
        else:
            n = max(2, math.ceil(length / SAMPLE_MM) + 1)
            points = [tuple(a[i] + (b[i] - a[i]) * k / (n - 1) for i in range(3))
                      for k in range(n)]  # type: ignore[misc]
        for point in points:
            floor = min(_floor_at(point, index, travel_floor), safe_z)
            if point[2] < floor - z_tolerance:
                problems.append(f"{where} at x={point[0]:.2f} y={point[1]:.2f} went to "
                                f"z={point[2]:.2f}, lowest there without pauses {floor:.2f}")
                break
        previous_end = b
    return problems


def _cells(piece: Piece) -> list[tuple[int, int]]:
    (x0, y0, _), (x1, y1, _) = piece
    pad = XY_TOLERANCE
    cx0, cx1 = int((min(x0, x1) - pad) // CELL_MM), int((max(x0, x1) + pad) // CELL_MM)
    cy0, cy1 = int((min(y0, y1) - pad) // CELL_MM), int((max(y0, y1) + pad) // CELL_MM)
    return [(i, j) for i in range(cx0, cx1 + 1) for j in range(cy0, cy1 + 1)]


def _floor_at(point: Sequence[float], index: Mapping[tuple[int, int], list[Piece]],
              travel_floor: float) -> float:
    px, py = point[0], point[1]
    floor = math.inf
    for piece in index.get((int(px // CELL_MM), int(py // CELL_MM)), ()):
        (x0, y0, z0), (x1, y1, z1) = piece
        dx, dy = x1 - x0, y1 - y0
        span = dx * dx + dy * dy
        if span < 1e-12:
            if math.hypot(px - x0, py - y0) <= XY_TOLERANCE:
                floor = min(floor, z0, z1)
            continue
        t = max(0.0, min(1.0, ((px - x0) * dx + (py - y0) * dy) / span))
        if math.hypot(px - (x0 + t * dx), py - (y0 + t * dy)) <= XY_TOLERANCE:
            if abs(dx) <= XY_TOLERANCE and abs(dy) <= XY_TOLERANCE:
                floor = min(floor, z0, z1)
            else:
                floor = min(floor, z0 + t * (z1 - z0))
    return floor if floor < math.inf else travel_floor


def plunger_strokes(config: RobotConfig, trace: Sequence[TraceItem], low_below: float
                    ) -> dict[int, tuple[dict[str, Any], list[float]]]:
    """Each protocol command that completed (by id: its ``queued`` event) with the plunger
    strokes made while it ran with its mount's tip down: the Z axis below ``low_below``
    and still during the stroke. A stroke is in mm, positive when the plunger draws
    (moves up). A command interrupted by a pause and completed after it is one entry."""
    queued: dict[int, dict[str, Any]] = {}
    strokes: dict[int, list[float]] = {}
    completed: set[int] = set()
    running: int | None = None
    for kind, first, second in trace:
        if kind == "event":
            if first["event"] != "command" or first.get("origin") == "cleanup":
                continue
            status, command_id = first["status"], first["id"]
            if status == "queued":
                queued[command_id] = first
            elif command_id not in queued:  # a cleanup command (only its queued says so)
                continue
            elif status == "started":
                running = command_id
                strokes.setdefault(command_id, [])
            elif status == "completed":
                completed.add(command_id)
                running = None
            elif status == "failed":
                running = None
            continue
        if running is None:
            continue
        mount = queued[running].get("params", {}).get("mount")
        if mount not in config.mounts:
            continue
        z, plunger = config.mounts[mount].z_axis, config.mounts[mount].plunger_axis
        if first[plunger] != second[plunger] and first[z] == second[z] < low_below:
            strokes[running].append(round(first[plunger] - second[plunger], 6))
    return {i: (queued[i], strokes[i]) for i in strokes if i in completed}
