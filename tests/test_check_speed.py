"""The cheap unchanged path of a check, and ``python -m bench`` as a user runs it.

A page answered with the very bytes of its last version is that version again without
being parsed (``monitor.pipeline.reusable_reading``); new settings of the source are
still applied to those same bytes at once.  Timing is measured in bench/, never here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import monitor.pipeline
from monitor.types import Outcome
from tests.pages import seed_page
from tests.test_pipeline import Env, html, make_env  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent


def _broken(*args: object, **kw: object) -> object:
    raise RuntimeError("extraction ran")


async def test_the_same_bytes_are_unchanged_without_reading_them_again(
        make_env: Callable[..., Env],  # noqa: F811  (the fixture)
        monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()
    page = seed_page(0)
    env.serve(html(page))
    assert (await env.check()).outcome is Outcome.NEW
    monkeypatch.setattr(monitor.pipeline, "extract", _broken)
    again = await env.check()
    assert again.outcome is Outcome.UNCHANGED and again.status == 200
    assert again.bytes == len(page) and len(env.versions()) == 1
    # other bytes are read (and here the broken extraction shows it)
    env.serve(html(seed_page(0, counter=4321)))
    assert (await env.check()).error_kind == "internal"


async def test_new_settings_read_the_same_bytes_again(
        make_env: Callable[..., Env]) -> None:  # noqa: F811  (the fixture)
    env = make_env()
    env.serve(html(seed_page(0)))
    assert (await env.check()).outcome is Outcome.NEW
    # the user now ignores a phrase: the unchanged page reads differently at once
    edited = make_env(source_lines="ignore_text = ['头雁效应']")
    edited.store.sync_sources(edited.config.sources)
    result = await edited.check()
    assert result.outcome is Outcome.CHANGED and result.version_id is not None
    assert len(edited.versions()) == 2
    # and read once, the same bytes take the cheap path again
    assert (await edited.check()).outcome is Outcome.UNCHANGED


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(900)  # a dozen pages, but a cold start of several processes
def test_bench_quick_prints_the_table(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--pages", "12", "--hosts", "3", "--no-urlwatch",
         "--no-stages", "--port", str(_free_port()), "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    for row in ("first pass", "unchanged, ETag", "unchanged, no ETag", "10% changed",
                "all changed", "bare limit"):
        assert row in out
    assert "unexpected outcomes" not in out  # every check had the outcome it should
    assert list(tmp_path.glob("check-*.json"))
