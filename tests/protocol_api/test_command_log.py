"""``ctx.commands()`` past the in-memory batch: the lines spilled to disk come back in
order, with the batch still in memory, and clearing forgets both."""

from __future__ import annotations

from engine import commands as c
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
