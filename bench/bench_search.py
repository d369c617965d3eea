"""How fast search answers over a large archive: p50/p95 per query kind.

    .venv/bin/python -m bench.bench_search [--pages 1000] [--versions 50] [--postgres URL]

``--pages`` pages, each with ``--versions`` versions, are stored by ``load`` (the
steps of ``Store.commit_check``, same rows, one transaction per page): the body of one
of the four seed texts (``tests.pages``) with a page-specific 文号 line, one paragraph edited per
version, and 文号/发布机构 metadata.  Then each query below runs ``--repeat`` times as the
CLI and web page ask (grouped by page, 20 hits) and the wall time is reported (a
total counted from the pages visited only, ``SearchResults.total_is_lower_bound``, is
shown as "≥ N"); the
target is p95 ≤ 200 ms on SQLite and PostgreSQL.  "CPU" is this process's CPU time
(the database's own work included on SQLite, not on PostgreSQL): on a loaded machine
the wall time measures the neighbours too.  The build is the slow part: it is
reported too (versions per second).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from monitor.config import SourceConfig
from storage import Store, repository
from storage.records import CheckRecord, NewVersion
from storage.search import Search
from storage.tables import metadata
from tests.pages import seed_paragraphs

T0 = datetime(2026, 1, 1, tzinfo=UTC)
QUERIES = {
    "long phrase, many pages": "人工智能产业",
    "文号, another bracket form": "湘工信提案函[2021]17号",
    "文号, full-width digits": "湘工信提案函（2021）１７号",
    "two characters (pair index)": "算力",
    "two terms": "人工智能 第37次更正",
    "metadata field only": "工业和信息化厅第17处",
    "no match": "完全不存在的短语组合",
}


def texts(n: int, v: int) -> tuple[str, dict[str, str]]:
    lines = list(seed_paragraphs(n % 4))
    lines.insert(1, f"湘工信提案函〔2021〕{n}号")
    i = 2 + v % (len(lines) - 2)
    lines[i] = lines[i] + f"（第{v}次更正）"
    return "\n".join(lines), {"文号": f"湘工信提案函〔2021〕{n}号",
                              "发布机构": f"湖南省工业和信息化厅第{n}处"}


def record(page_id: int, i: int, v: int, url: str) -> CheckRecord:
    """Version ``v`` of page ``i`` as the pipeline would hand it to the store."""
    body, meta = texts(i, v)
    raw = f"<html><body>{body}</body></html>".encode()
    at = T0 + timedelta(days=v, minutes=i)
    return CheckRecord(
        page_id=page_id, expected_last_version_id=None, expected_revision=0,
        started_at=at, duration=0.0, outcome="changed" if v else "new", http_status=200,
        bytes=len(raw), observed_at=at,
        version=NewVersion(
            content_hash=hashlib.sha256(body.encode()).hexdigest(),
            title=f"关于第{i}号提案的答复", text=body, metadata=meta, raw=raw,
            raw_sha256=hashlib.sha256(raw).hexdigest(), http_status=200,
            headers={}, url=url, charset="utf-8", fetched_at=at))


def load(store: Store, records: list[CheckRecord]) -> None:
    """Bulk loader: one page's checks in one transaction, each written by the store's
    own steps of ``Store.commit_check`` (version with its paragraphs, index entries,
    raw delta and hash chain; check row; page update), so the rows are those
    ``commit_check`` writes, without a commit (and its fsync) per version.  No changes
    or alerts: search does not read them."""
    with store.write_session() as s:
        c = s.connection()
        for rec in records:
            page = store._lock_page(c, rec.page_id)
            assert rec.version is not None
            version_id = store._add_version(c, page, rec.version)
            c.execute(repository._INSERT_CHECK,
                      repository._check_values(rec, rec.outcome, version_id))
            c.execute(repository._UPDATE_PAGE, {"page_id_": page.id, **repository._page_values(
                page.revision, page.observed_at, rec, version_id)})
        s.commit()


def build(store: Store, pages: int, versions: int) -> float:
    sources = [SourceConfig(name=f"s{i:05d}", url=f"http://127.0.0.2/s{i}.html",
                            tags=("even" if i % 2 == 0 else "odd",)) for i in range(pages)]
    store.sync_sources(sources)
    t0 = time.perf_counter()
    for i, src in enumerate(sources):
        page_id = store.page_state(src).page_id
        load(store, [record(page_id, i, v, src.url) for v in range(versions)])
    return pages * versions / (time.perf_counter() - t0)


COPIED = ("sources", "pages", "paragraphs", "versions", "checks", "paragraph_spans")


def copy(src: Store, dst: Store) -> float:
    """Fill an empty PostgreSQL database with the rows of a built SQLite one, table by
    table with their ids (the same rows ``load`` would write there; PostgreSQL computes
    its own ``monitor_fold`` trigram index as they go in), then move the id sequences
    past them.  Versions per second, as ``build``."""
    t0 = time.perf_counter()
    with src.engine.connect() as a, dst.engine.begin() as b:
        for name in COPIED:
            table = metadata.tables[name]
            rows = a.execution_options(yield_per=2000).execute(table.select())
            for batch in rows.partitions():
                b.execute(table.insert(), [dict(r._mapping) for r in batch])
            if "id" in table.c:
                b.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {name}))"))
        versions = b.execute(sa.text("SELECT count(*) FROM versions")).scalar_one()
    return versions / (time.perf_counter() - t0)


def measure(store: Store, repeat: int) -> list[tuple[str, str, str, str, float, float, float]]:
    search = Search(store)
    out = []
    for label, query in QUERIES.items():
        times, cpu, found = [], [], None
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            found = search.search(query, group=True, limit=20)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        assert found is not None
        p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
        least = "≥ " if found.total_is_lower_bound else ""  # the pages visited only
        out.append((label, query, f"{least}{found.total}", f"{least}{found.versions}",
                    statistics.median(times), p95, statistics.median(cpu)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--versions", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--postgres", help="an empty PostgreSQL database URL to measure too")
    ap.add_argument("--sqlite", help="SQLite file to use (kept; reused when it has data)")
    ap.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    ap.add_argument("--copy", action="store_true", help="fill an empty --postgres database "
                    "by copying the rows of the --sqlite one instead of building it again")
    args = ap.parse_args()
    console = Console(width=130)
    with tempfile.TemporaryDirectory() as tmp:
        targets = [] if args.no_sqlite else [
            ("SQLite", f"sqlite:///{args.sqlite or tmp + '/search.db'}")]
        if args.postgres:
            targets.append(("PostgreSQL", args.postgres))
        for label, url in targets:
            store = Store(url)
            try:
                from storage.models import Version
                rate = 0.0
                if store.count(Version) == 0 and args.copy and label == "PostgreSQL":
                    rate = copy(Store(f"sqlite:///{args.sqlite}"), store)
                elif store.count(Version) == 0:
                    rate = build(store, args.pages, args.versions)
                table = Table(title=f"{label}: search over {args.pages} pages × "
                              f"{args.versions} versions (filled at {rate:,.0f} versions/s)")
                for c in ("query", "text", "pages", "versions", "p50 ms", "p95 ms",
                          "CPU p50 ms"):
                    table.add_column(c, justify="left" if c in ("query", "text") else "right")
                for row in measure(store, args.repeat):
                    table.add_row(row[0], row[1], row[2], row[3], f"{row[4]:.1f}",
                                  f"{row[5]:.1f}", f"{row[6]:.1f}")
                console.print(table)
            finally:
                store.close()


if __name__ == "__main__":
    main()
