"""Remote server memory: the peak RSS of ``labrun serve`` answering
``history_get(records=true)`` over large kept records.
``python benchmarks/remote_memory.py [--runs N] [--comments N]``.

A first server runs N protocols of that many ``ctx.comment`` calls each (defaults: 4 and
20,000) with ``--record-dir``; a second one is started on the same folder (it reads the
history back from it), so its peak RSS (``VmHWM``) is that of its start and the one call:
taken after a ``status``, after ``history_get`` without records, and after it with
records, whose body the client streams to nowhere. The figures grow with the records'
size where the server reads them all into memory at once; flat where it streams them.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from labrun.remote import RunManagerAPI
from labrun.remote.server import bind

TOKEN = "benchmark-token"
WAIT = 600.0


def comments(n: int) -> str:
    return ('metadata = {"apiLevel": "2.15"}\n\n'
            f"def run(ctx):\n    for i in range({n}):\n        ctx.comment(f'comment {{i}}')\n")


def peak_mb(pid: int) -> float:
    """The process's peak resident set (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


@contextmanager
def server(record_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``labrun serve`` (simulated robot, 1000x) on a free port, writing to ``record_dir``."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.cli.main", "serve", "--speed", "1000", "--port",
         str(port), "--token", TOKEN, "--record-dir", str(record_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/api/status", timeout=5).raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        yield process, url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)


def fill(record_dir: Path, runs: int, n: int) -> None:
    """Run ``runs`` protocols of ``n`` comments, their records kept in ``record_dir``."""
    with server(record_dir) as (_, url), \
            RunManagerAPI(url, token=TOKEN, timeout=WAIT) as client:
        for i in range(runs):
            client.queue_item_add({"name": f"comments_{i}.py", "source": comments(n)})
        client.queue_start()
        client.wait_for_idle(timeout=WAIT)
        results = [e["result"]["exit_status"] for e in client.history_get()["items"]]
        assert results == ["succeeded"] * runs, results


def measure(record_dir: Path) -> list[tuple[str, str]]:
    with server(record_dir) as (process, url):
        rows = []
        headers = {"Authorization": f"Bearer {TOKEN}"}
        httpx.get(url + "/api/status", headers=headers).raise_for_status()
        rows.append(("after start and status", f"{peak_mb(process.pid):.0f} MB"))
        httpx.get(url + "/api/history/get", headers=headers).raise_for_status()
        rows.append(("after history_get", f"{peak_mb(process.pid):.0f} MB"))
        size = 0
        with httpx.stream("GET", url + "/api/history/get", params={"records": "true"},
                          headers=headers, timeout=WAIT) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                size += len(chunk)
        rows.append((f"after history_get(records=true) ({size / 1e6:.0f} MB of JSON)",
                     f"{peak_mb(process.pid):.0f} MB"))
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--comments", type=int, default=20_000)
    parser.add_argument("--record-dir", type=Path, help="reuse (or fill) this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        record_dir = args.record_dir or Path(scratch)
        if not (record_dir / "history.jsonl").is_file():
            fill(record_dir, args.runs, args.comments)
        kept = sum(f.stat().st_size for f in record_dir.glob("*.jsonl")) / 1e6
        print(f"records kept: {kept:.0f} MB in {record_dir}")
        for name, value in measure(record_dir):
            print(f"server peak RSS {name}: {value}")


if __name__ == "__main__":
    main()
