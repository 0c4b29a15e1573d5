"""A protocol file's text through the client and the server: read as ``labrun simulate``
reads it (UTF-8, or the encoding its coding comment names), kept so that the run reads the
same text, and a byte that cannot be read refused with its ``file:line``."""

from __future__ import annotations

from pathlib import Path

import pytest
from remote_kit import WAIT, Served, protocol

from labrun.remote import HTTPClientError, RequestError
from protocol_api.execute import create_run

LATIN_1 = "# -*- coding: latin-1 -*-\n" + protocol('ctx.comment("incubate at 37°C")')


def simulated_comments(path: Path) -> list[str]:
    """The comments ``path`` makes in a simulation, as ``labrun simulate`` runs it."""
    run = create_run(path)
    try:
        run.control.play(source="test")
        run.wait(timeout=WAIT)
        return [e["params"]["message"] for e in run.record.events
                if e.get("type") == "comment" and e["status"] == "queued"]
    finally:
        run.close()


def run_comments(served: Served) -> list[str]:
    """The comments of the run the queue has just started, once it has ended."""
    status = served.client.wait_for_idle(timeout=WAIT)
    assert status["progress"]["status"] == "succeeded", status["progress"]
    return list(status["progress"]["comments"])


def test_a_latin_1_protocol_runs_as_it_simulates(served: Served, tmp_path: Path) -> None:
    path = tmp_path / "old.py"
    path.write_bytes(LATIN_1.encode("latin-1"))
    assert simulated_comments(path) == ["incubate at 37°C"]
    c = served.client
    c.queue_item_add(path=path)  # read as its coding comment says
    c.queue_start()
    assert run_comments(served) == ["incubate at 37°C"]
    # The same text sent as an item: kept in latin-1 (as UTF-8 under the latin-1 comment,
    # it ran as "37Â°C").
    c.queue_item_add({"name": "old.py", "source": LATIN_1})
    c.queue_start()
    assert run_comments(served) == ["incubate at 37°C"]


def test_text_its_coding_comment_cannot_hold_is_refused_with_its_line(served: Served) -> None:
    euro = LATIN_1.replace("37°C", "37°C for 2 €")
    with pytest.raises(HTTPClientError) as refused:
        served.client.queue_item_add({"name": "old.py", "source": euro})
    assert refused.value.status_code == 422
    assert refused.value.response["msg"] == (
        "the protocol cannot run: old.py:8: '€' cannot be written in iso-8859-1, the "
        "encoding the file's coding comment names")
    assert served.client.queue_get()["items"] == []


def test_a_coding_comment_naming_no_text_encoding_is_refused_with_its_line(
        served: Served, tmp_path: Path) -> None:
    source = "# coding: rot13\n" + protocol('ctx.comment("x")')
    said = ("rot13.py:1: syntax error: the coding comment names 'rot13', which is not a "
            "text encoding; save the file as UTF-8")
    with pytest.raises(HTTPClientError) as refused:  # sent as text: the server says it
        served.client.queue_item_add({"name": "rot13.py", "source": source})
    assert refused.value.status_code == 422
    assert refused.value.response["msg"] == "the protocol cannot run: " + said
    path = tmp_path / "rot13.py"
    path.write_text(source)
    with pytest.raises(RequestError) as unread:  # sent by path: the client reads it
        served.client.queue_item_add(path=path)
    assert str(unread.value) == f"{tmp_path}/{said}"
    assert served.client.queue_get()["items"] == []


def test_a_byte_the_client_cannot_read_is_said_with_its_file_and_line(
        served: Served, tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_bytes(protocol('ctx.comment("incubate at 37°C")').encode("latin-1"))
    with pytest.raises(RequestError) as refused:
        served.client.queue_item_add(path=path)
    assert str(refused.value) == (f"{path}:7: the protocol file is not UTF-8 text: byte 0xb0 "
                                  "cannot be read; save the file as UTF-8")
    ascii_only = tmp_path / "ascii.py"
    ascii_only.write_bytes(LATIN_1.replace("latin-1", "ascii").encode("latin-1"))
    with pytest.raises(RequestError, match=r"ascii.py:8: the protocol file is not ascii "
                                           r"text: byte 0xb0 cannot be read"):
        served.client.queue_item_add(path=ascii_only)
    labware = tmp_path / "plate.json"
    labware.write_bytes(b'{"note": "37\xb0C"}')
    good = tmp_path / "good.py"
    good.write_text(protocol("pass"))
    with pytest.raises(RequestError) as refused:
        served.client.queue_item_add(path=good, labware=[labware])
    assert str(refused.value) == (f"{labware}: the labware file is not UTF-8 text: byte "
                                  "0xb0 cannot be read")
    assert served.client.queue_get()["items"] == []


def test_metadata_json_has_no_value_for_is_given_as_its_python_text(served: Served) -> None:
    """``metadata`` is any Python literal: ``1e999`` (infinity) was queued, then the add,
    the queue, the status of its run and the history after it answered 500 ("Out of
    range float values are not JSON compliant"), and a nested tuple key failed its
    check as the death of its worker."""
    c = served.client
    source = protocol('p300.transfer(50, plate["A1"], plate["B1"])').replace(
        'metadata = {"apiLevel": "2.15"}',
        'metadata = {"apiLevel": "2.15", "protocolName": "Dilution", "max_uL": 1e999,\n'
        '            "plates": {(1, 2): b"ab"}, "tags": ("a", -1e999)}')
    metadata = {"apiLevel": "2.15", "protocolName": "Dilution", "max_uL": "inf",
                "plates": {"(1, 2)": "b'ab'"}, "tags": ["a", "-inf"]}
    added = c.queue_item_add({"name": "dilution.py", "source": source})
    assert added["item"]["metadata"] == metadata
    assert c.queue_get()["items"][0]["metadata"] == metadata
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["queue_error"] is None
    ran = c.history_get()["items"][0]
    assert ran["metadata"] == metadata and ran["result"]["exit_status"] == "succeeded"
