"""Logging with loguru: readable lines on a terminal, JSON lines when asked.

A JSON line is flat: ``time`` (UTC, ISO 8601), ``level``, ``message``, then the bound
fields (``source``, ``outcome``, ``status``, ``duration``... for a check), and
``exception`` with the traceback when there is one.
"""

from __future__ import annotations

import json
import sys
import traceback
from datetime import UTC
from typing import Any

from loguru import logger


def setup_logging(*, json_lines: bool = False, quiet: bool = False, level: str = "INFO") -> None:
    logger.remove()
    if json_lines:
        logger.add(_json_sink, level=level)
        return
    logger.add(sys.stderr, level="WARNING" if quiet else level, colorize=sys.stderr.isatty(),
               format="<green>{time:YYYY-MM-DD HH:mm:ss}</green> <level>{level: <7}</level> "
                      "{message}")


def _json_sink(message: Any) -> None:
    record = message.record
    line: dict[str, Any] = {"time": record["time"].astimezone(UTC).isoformat(),
                            "level": record["level"].name, "message": record["message"]}
    line.update({k: v for k, v in record["extra"].items() if k not in line})
    if record["exception"] is not None:
        line["exception"] = "".join(_traceback(record["exception"]))
    sys.stderr.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
    sys.stderr.flush()


def _traceback(exc: Any) -> list[str]:
    return traceback.format_exception(exc.type, exc.value, exc.traceback)
