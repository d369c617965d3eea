"""``monitor demo`` as a user runs it: a subprocess with a fast step, its site changing
while its daemon watches; the outbox and the web UI's changes must show exactly the
script's changes (no alert for the counters or the re-template), and Ctrl+C (SIGINT to
the whole process group, as a terminal sends it) stops it cleanly, writing nothing
outside its --dir."""

from __future__ import annotations

import email
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from monitor.demo import EXPECTED, SCRIPT
from monitor.types import KIND_LABELS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kinds(outbox: Path) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for path in outbox.glob("*.eml"):
        subject = str(make_header(decode_header(
            email.message_from_bytes(path.read_bytes())["Subject"])))
        kind = [k for k, label in KIND_LABELS.items() if f"— {label}" in subject]
        kinds[kind[0] if kind else f"unknown: {subject}"] += 1
    return kinds


@pytest.mark.timeout(300)  # a run of the whole script; slower on a loaded machine
def test_demo_alerts_what_changed_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    cwd, root, port = tmp_path / "cwd", tmp_path / "demo", _free_port()
    cwd.mkdir()
    env = {**os.environ, "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path}/user.db",
           "MONITOR_OUTBOX_DIR": str(tmp_path / "user-outbox")}  # the demo ignores these
    log = tmp_path / "stdout.txt"
    with log.open("w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "demo", "--dir", str(root), "--step", "2",
             "--port", str(port)], cwd=cwd, env=env, stdout=stdout,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            done = "stays as it is now" in log.read_text(encoding="utf-8")
            if done and sum(_kinds(root / "outbox").values()) >= sum(EXPECTED.values()):
                break
            time.sleep(0.5)
        time.sleep(3)  # a few more checks of the final site: nothing more may come
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/changes") as r:
            api = json.load(r)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/changes") as r:
            page = r.read().decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=40)
    out = log.read_text(encoding="utf-8")
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert _kinds(root / "outbox") == Counter(EXPECTED), (out, err[-3000:])
    assert f"step {len(SCRIPT)}/{len(SCRIPT)}" in out
    assert f"http://127.0.0.1:{port}/" in out and str(root / "outbox") in out
    # The web UI shows the same changes, and the column's own page changing (a new item
    # in it), which is recorded and shown but never mailed: the new reply is the news.
    column = [c for c in api if c["page_url"].endswith("/hunan/jytabl/index.html")]
    assert [c["kind"] for c in column] == ["changed"], column
    told = Counter(c["kind"] for c in api if c not in column)
    assert told == Counter(EXPECTED), api
    assert KIND_LABELS["gone"] in page and KIND_LABELS["restored"] in page
    assert "demo stopped" in out
    assert list(cwd.iterdir()) == []  # nothing outside --dir
    assert not (tmp_path / "user.db").exists() and not (tmp_path / "user-outbox").exists()
