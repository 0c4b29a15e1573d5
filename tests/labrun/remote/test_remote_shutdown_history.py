"""A server stopped (SIGTERM, Ctrl-C) while a run goes aborts it and writes its history
entry whole before it ends, as for any run: its protocol's name, apiLevel and metadata,
not the bare entry a restart rebuilds from the record alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from remote_kit import WAIT, Gates, item, serving

GATED = item('''
p300.pick_up_tip()
gates.wait("held")
p300.drop_tip()
''', "held.py")


@pytest.mark.parametrize("run_worker", [False, True], ids=["in process", "run worker"])
def test_a_run_the_server_stops_goes_to_the_history_whole(tmp_path: Path, gates: Gates,
                                                          run_worker: bool) -> None:
    with serving(gates, record_dir=str(tmp_path), run_worker=run_worker) as served:
        c = served.client
        added = c.queue_item_add(GATED)["item"]
        c.queue_start()
        gates.reached("held")
        c.wait_for(lambda s: s["run_status"] == "running", timeout=WAIT)
        served.handle.close()  # as SIGTERM stops it, the run held at its gate
    # the server has stopped: its history file has the run, as the server said it
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    [entry] = [json.loads(line) for line in lines if added["item_uid"] in line]
    assert entry["name"] == "held.py" and entry["api_level"] == "2.15"
    assert entry["metadata"] == {"apiLevel": "2.15"}
    assert entry["result"]["exit_status"] == "aborted"
    assert entry["result"]["msg"] == "the server stopped"
    assert entry["result"]["summary"]["status"] == "aborted"  # its cleanup ran: the tip dropped
