"""How long ``monitor verify`` takes over a thousand pages.

    .venv/bin/python -m bench.bench_verify [PAGES] [VERSIONS] [DATABASE_URL]

Stores PAGES pages × VERSIONS versions (a ~20 KB page with one edited paragraph per
version, so bodies are delta-compressed as the pipeline stores them) through
``Store.commit_check``, then times ``storage.verify.verify`` over all of them: every raw
body decompressed and hashed, every text read through ``Store.version`` and hashed,
every record hash recomputed.  Default: 1000 × 5 on a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config import SourceConfig
from storage import Store
from storage.records import CheckRecord, NewVersion
from storage.verify import verify

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def page(n: int, v: int) -> tuple[str, bytes]:
    text = "\n".join(f"第{i}条 关于第{n}号文件的规定，自发布之日起施行。" * 3 for i in range(60))
    text += f"\n修订 {v}"
    return text, f"<html><body><p>{text}</p></body></html>".encode()


def fill(store: Store, pages: int, versions: int) -> None:
    sources = [SourceConfig(name=f"p{n}", url=f"http://127.0.0.1:9/{n}.html")
               for n in range(pages)]
    store.sync_sources(sources)
    for src in sources:
        for v in range(versions):
            state = store.page_state(src)
            text, raw = page(int(src.name[1:]), v)
            at = T0 + timedelta(days=v)
            new = NewVersion(content_hash=hashlib.sha256(text.encode()).hexdigest(),
                             title=src.name, text=text, metadata={"文号": f"{v}号"}, raw=raw,
                             raw_sha256=hashlib.sha256(raw).hexdigest(), http_status=200,
                             headers={}, url=src.url, charset="utf-8", fetched_at=at)
            store.commit_check(CheckRecord(
                page_id=state.page_id, expected_last_version_id=state.last.id
                if state.last else None, expected_revision=state.revision, started_at=at,
                duration=0.1, outcome="new" if v == 0 else "changed", version=new))


def main() -> None:
    ap = argparse.ArgumentParser(description="How long monitor verify takes.")
    ap.add_argument("pages", type=int, nargs="?", default=1000)
    ap.add_argument("versions", type=int, nargs="?", default=5)
    ap.add_argument("database_url", nargs="?", help="default: a temporary SQLite file")
    args = ap.parse_args()
    pages, versions = args.pages, args.versions
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'b.db'}"
        store = Store(url)
        t0 = time.perf_counter()
        fill(store, pages, versions)
        filled = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = verify(store)
        took = time.perf_counter() - t0
        store.close()
    print(f"stored {pages} pages × {versions} versions in {filled:.1f} s")
    print(f"verify: {report.pages} pages, {report.versions} versions, "
          f"{len(report.problems)} problems, {took:.2f} s "
          f"({took / max(report.versions, 1) * 1000:.2f} ms a version)")


if __name__ == "__main__":
    main()
