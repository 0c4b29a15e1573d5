"""``ctx.commands()`` past the in-memory batch: the lines spilled to disk come back in
order, with the batch still in memory, and clearing forgets both; nothing is described
until the log is read."""

from __future__ import annotations

from engine import commands as c
from engine.commands import Aspirate, Command, Comment
from protocol_api.command_log import CHUNK, CommandLog
from protocol_api.steps import describe


def test_the_log_keeps_every_line_in_order_across_batches() -> None:
    log = CommandLog(describe)
    texts = [f"note {i}\nwith a second line" for i in range(2 * CHUNK + 5)]
    for text in texts:
        log.append(c.Comment(text))
    assert list(log) == texts
    log.append(c.Comment("one more"))
    assert list(log) == [*texts, "one more"]  # reading does not lose the file's end
    log.clear()
    assert list(log) == []
    log.append(c.Comment("after"))
    assert list(log) == ["after"] and len(log) == 1


def test_nothing_is_described_until_read_and_any_command_comes_back() -> None:
    described: list[Command] = []

    def counting(command: Command) -> str:
        described.append(command)
        return describe(command)

    log = CommandLog(counting)
    commands: list[Command] = []
    for i in range(2 * CHUNK + 10):
        command: Command = Comment(f"line {i}") if i % 2 else Aspirate(
            "left", 10.0 + i, 92.86, "1/A1", ("1/B1",), False)
        commands.append(command)
        log.append(command)
    assert described == []  # nothing is described until the log is read
    assert len(log) == 2 * CHUNK + 10
    expected = [describe(c) for c in commands]
    assert list(log) == expected
    assert list(log) == expected  # reading it leaves it as it was
    log.append(Comment("after"))  # and it goes on after a read
    assert list(log)[-2:] == [expected[-1], "after"]
    assert len(log) == 2 * CHUNK + 11
    log.clear()
    assert list(log) == [] and len(log) == 0
    log.append(Comment("again"))
    assert list(log) == ["again"]


def test_a_command_no_pickle_holds_is_still_in_the_log() -> None:
    log = CommandLog(describe)

    def message() -> None:  # a protocol's own object as a message: no pickle holds it
        pass

    commands = [c.Comment(f"note {i}") for i in range(CHUNK)]
    commands[5] = c.Comment(message)  # type: ignore[arg-type]
    for command in [*commands, c.Comment("last")]:
        log.append(command)
    assert list(log) == [describe(command) for command in commands] + ["last"]
    assert list(log)[5].startswith("<function ")
