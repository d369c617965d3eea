"""The daemon's housekeeping says a failed round in the log and goes on."""

from __future__ import annotations

import pytest
from loguru import logger

from monitor.errors import StorageError, reported


def test_a_failed_round_is_logged_with_what_failed_and_the_next_step_runs() -> None:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(f"{m.record['level'].name} {m.record['message']}"))
    try:
        with reported("cannot look for due checks"):
            raise StorageError("the database is not answering")
        with reported("cannot count alerts", level="WARNING"):
            raise StorageError("timeout")
        ran_on = True
    finally:
        logger.remove(sink)
    assert ran_on
    assert lines == ["ERROR cannot look for due checks: the database is not answering",
                     "WARNING cannot count alerts: timeout"]


def test_a_bug_is_not_swallowed() -> None:
    with pytest.raises(ZeroDivisionError), reported("housekeeping"):
        _ = 1 / 0
