"""Logging with loguru: readable lines on a terminal, JSON lines when asked."""

from __future__ import annotations

import sys

from loguru import logger


def setup_logging(*, json_lines: bool = False, quiet: bool = False, level: str = "INFO") -> None:
    logger.remove()
    if json_lines:
        logger.add(sys.stderr, serialize=True, level=level)
        return
    logger.add(sys.stderr, level="WARNING" if quiet else level, colorize=sys.stderr.isatty(),
               format="<green>{time:YYYY-MM-DD HH:mm:ss}</green> <level>{level: <7}</level> "
                      "{message}")
