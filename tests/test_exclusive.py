"""``monitor check``'s lease on a page (``monitor.exclusive``): waiting for its holder."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from monitor.config import load_config
from monitor.exclusive import exclusive
from storage import Store
from storage.instant import utcnow
from storage.schedule import Schedule
from tests.conftest import write_sources


class _EndsBetween(Schedule):
    """The holder gives its lease back just after our take failed, before we ask who
    holds it: the interleaving that made the wait name nobody (``until ?``)."""

    def __init__(self, store: Store, holder: Schedule) -> None:
        super().__init__(store, "check:2", 600)
        self.other, self.asked = holder, 0

    def holder(self, page_id: int):  # type: ignore[no-untyped-def]
        self.asked += 1
        self.other.give_back(page_id)
        return super().holder(page_id)


async def test_a_lease_given_back_between_two_reads_is_taken_at_once_without_a_wait(
        tmp_path: Path, store: Store) -> None:
    config = load_config(write_sources(tmp_path / "sources.toml", """
        [[sources]]
        name = "p"
        url = "http://127.0.0.1:9/p.html"
        """))
    store.sync_sources(config.sources)
    first = Schedule(store, "check:1", 600)
    page_id = first.ensure_pages(config.sources)["p"].page_id
    assert first.take(page_id, utcnow())
    said: list[str] = []
    sink = logger.add(lambda m: said.append(str(m)), level="WARNING")
    try:
        ours = _EndsBetween(store, first)
        async with exclusive(ours, page_id, name="p", wait=0.0):
            assert ours.asked == 1
            assert Schedule(store, "check:3", 600).holder(page_id)[0] == "check:2"
    finally:
        logger.remove(sink)
    # neither a wait nor a busy page (wait=0 would have raised at the first wait)
    assert not [m for m in said if "另一进程正在检查此页" in m], said
