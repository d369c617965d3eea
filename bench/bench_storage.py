"""How much a stored version costs, against the raw page it was fetched as.

    .venv/bin/python -m bench.bench_storage

Real page sequences from tests/fixtures (extracted with ``monitor.extract`` and stored
through ``Store.commit_check`` on SQLite, as the pipeline does) and seed pages with a
run of small edits.  "stored" is the compressed raw body plus the text, title and
metadata of the version; "ratio" is stored bytes / raw bytes for each version after the
first (the first is a full compressed copy).  The target is < 5% of the raw page.
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from monitor.config import SourceConfig
from monitor.extract import extract
from monitor.fetch.encoding import decode_html
from storage import Store
from storage.models import Version
from storage.records import CheckRecord, NewVersion
from tests.pages import seed_page

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "corpus"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
SEQUENCES = {
    "bj-housing 2019-01-04→05": ["cn-gov/bjjs-zjw-beijing__fwjy-stats__20190104.html",
                                 "cn-gov/bjjs-zjw-beijing__fwjy-stats__20190105.html"],
    "bj-housing 2023-09-05→06": ["cn-gov/bjjs-zjw-beijing__fwjy-stats__20230905.html",
                                 "cn-gov/bjjs-zjw-beijing__fwjy-stats__20230906.html"],
    "energy.gov before→after": ["peers/wmd__energy-gov-home__before__9d4de183.html",
                                "peers/wmd__energy-gov-home__after__775a8b04.html"],
}


def seed_runs(n: int, versions: int = 20) -> list[bytes]:
    """Seed page ``n`` with a view counter that moves and one more sentence each time."""
    pages = []
    for i in range(versions):
        page = seed_page(n, counter=1000 + 37 * i)
        extra = "".join(f"<p>补充说明第{k}条：按计划推进。</p>" for k in range(i))
        pages.append(page.replace(b"</body>", extra.encode() + b"</body>"))
    return pages


def sequences() -> Iterator[tuple[str, list[bytes]]]:
    for name, files in SEQUENCES.items():
        yield name, [(FIXTURES / f).read_bytes() for f in files]
    for n in range(4):
        yield f"seed {n:03d}, 20 edits", seed_runs(n)


def store_all(store: Store, name: str, pages: list[bytes]) -> list[int]:
    src = SourceConfig(name=name.split()[0].replace("→", "-"), url=f"http://127.0.0.1/{name}")
    store.sync_sources([src])
    ids = []
    for i, raw in enumerate(pages):
        text, _ = decode_html(raw, None)
        got = extract(text)
        state = store.page_state(src)
        content = got.title + got.text + repr(sorted(got.metadata.items())) + str(i)
        version = NewVersion(
            content_hash=hashlib.sha256(content.encode()).hexdigest(), title=got.title,
            text=got.text, metadata=dict(got.metadata), raw=raw,
            raw_sha256=hashlib.sha256(raw).hexdigest(), http_status=200,
            headers={"content-type": "text/html"}, url=src.url, charset="utf-8",
            fetched_at=T0 + timedelta(hours=i))
        rec = CheckRecord(page_id=state.page_id,
                          expected_last_version_id=state.last.id if state.last else None,
                      expected_revision=state.revision,
                          started_at=version.fetched_at, duration=0.0, outcome="changed",
                          version=version)
        ids.append(store.commit_check(rec).version_id or 0)
    return ids


def measure(store: Store, ids: list[int]) -> tuple[int, list[int], list[float]]:
    with store.session() as s:
        rows = [s.get(Version, i) for i in ids]
    sizes, ratios = [], []
    for row in rows:
        assert row is not None
        stored = (len(row.raw_body) + len(row.text.encode()) + len(row.title.encode())
                  + len(repr(row.meta).encode()))
        sizes.append(stored)
        ratios.append(stored / row.raw_size)
    return rows[0].raw_size if rows and rows[0] else 0, sizes, ratios


def main() -> None:
    table = Table(title="stored bytes per version (SQLite, zstd against the previous raw body)")
    for col in ("sequence", "n", "raw page", "1st stored", "later stored", "later/raw",
                "max later/raw", "raw body/raw"):
        table.add_column(col, justify="right" if col != "sequence" else "left")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        try:
            for name, pages in sequences():
                ids = store_all(store, name, pages)
                raw_size, sizes, ratios = measure(store, ids)
                with store.session() as s:
                    raw_only = [len(r.raw_body) / r.raw_size for i in ids[1:]
                                if (r := s.get(Version, i)) is not None]
                table.add_row(name, str(len(ids)), f"{raw_size:,}", f"{sizes[0]:,}",
                              f"{int(statistics.median(sizes[1:])):,}",
                              f"{statistics.median(ratios[1:]):.1%}", f"{max(ratios[1:]):.1%}",
                              f"{statistics.median(raw_only):.1%}")
        finally:
            store.close()
    Console(width=120).print(table)
    print("later stored, later/raw: median over the versions after the first; raw body/raw: "
          "the compressed raw body alone (without the version's text)")


if __name__ == "__main__":
    main()
