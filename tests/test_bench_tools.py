"""The bench tools that a stop's measurements rely on still run on the current code.

Each runs as a module in a fresh process at its smallest size (a wrapped function
would otherwise stay wrapped in this process): a renamed module or attribute in the
code they time makes them fail here, not in the middle of a measurement run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_bench_extract_times_every_part_of_a_read() -> None:
    got = _bench("bench.bench_extract", "--pages", "2", "--rounds", "1")
    assert got.returncode == 0, got.stderr
    assert "CPU ms a page" in got.stdout
    for part in ("DOM noise", "metadata", "attachments", "mojibake check"):
        assert part in got.stdout


def test_bench_verify_says_its_arguments_and_runs() -> None:
    usage = _bench("bench.bench_verify", "--help")
    assert usage.returncode == 0, usage.stderr
    assert "pages" in usage.stdout and "database_url" in usage.stdout
    got = _bench("bench.bench_verify", "2", "2")
    assert got.returncode == 0, got.stderr
    assert "verify: 2 pages, 4 versions, 0 problems" in got.stdout


def test_bench_deliver_sends_every_mail_to_the_outbox_and_to_a_real_smtp_server() -> None:
    from tests.test_alerts_support import free_port

    got = _bench("bench.bench_deliver", "--alerts", "2", "--recipients", "3",
                 "--port", str(free_port()))
    assert got.returncode == 0, got.stderr
    lines = got.stdout.splitlines()
    assert any(line.startswith("outbox") and "    6 messages" in line for line in lines)
    assert any(line.startswith("smtp") and "    6 messages" in line for line in lines)
    assert "smtp server received 6 messages" in lines
