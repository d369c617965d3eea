"""What the database grows by: per changed version and per unchanged check.

    .venv/bin/python -m bench.bench_storage [--pages 100] [--rounds 100] [--seed 3]
                                               [--postgres URL [--no-sqlite]]

``N`` pages built from the four seed texts (``tests.pages.seed_page``, each page made
distinct by its neighbours' titles and counters, 15–40 KB, 23 KB on average; or all from
one with ``--seed``, e.g. ``--seed 3``: the Hubei plan template, 40 KB) get a first
version, then ``--rounds`` rounds in which 5% of the pages change (a number in one
sentence changes, as a typical edit) and the others are checked unchanged.  Everything
goes through ``Store.commit_check`` as the pipeline writes it (text extracted with
``monitor.extract``).  The growth of every table and index is read from the database
itself (SQLite ``dbstat``, PostgreSQL ``pg_total_relation_size``) and split into:

* per changed version: all tables but ``checks`` (version row, raw delta, shared
  paragraphs, full-text index), divided by the changed versions; target ≤ 5% of the raw
  page;
* per unchanged check: ``checks`` and its indexes, divided by the checks; target ≤ 300 B.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from monitor.config import SourceConfig
from monitor.extract import extract
from monitor.fetch.encoding import decode_html
from storage import Store
from storage.records import CheckRecord, NewVersion
from tests.pages import seed_page

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WORKER = "bench-host:12345"


SEED: int | None = None  # --seed: every page built from this seed text


def page_bytes(n: int, edits: int, rnd: int) -> bytes:
    """Page ``n`` after ``edits`` edits (each changes one number in one sentence)."""
    def edit(ps: list[str]) -> list[str]:
        out = list(ps)
        for e in range(edits):
            i = (n + 7 * e) % len(out)
            out[i] = out[i] + f"（第{e + 1}次更正，数值{1000 + 37 * e}）"
        return out
    return seed_page(n % 4 if SEED is None else SEED, counter=1000 + rnd,
                     edit=edit if edits else None,
                     neighbours=(f"关于公布第{n}批名单的通知", f"关于开展第{n}次活动的通知"))


def sizes(store: Store) -> dict[str, int]:
    """Bytes per table and index.  SQLite's full-text index is merged first (FTS5
    'optimize'), so the figure is the index's settled size, not the momentary overhead
    of one small segment per transaction (or the savings of a merge in between)."""
    with store.engine.begin() as c:
        if store.is_sqlite:
            c.execute(text("INSERT INTO paragraphs_fts(paragraphs_fts) VALUES ('optimize')"))
    with store.engine.connect() as c:
        if store.is_sqlite:
            rows = c.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
            return {name: int(n) for name, n in rows}
        rows = c.execute(text(
            "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"))
        return {name: int(n) for name, n in rows}


def check_tables(name: str) -> bool:
    return name == "checks" or name.startswith("ix_checks") or name == "sqlite_autoindex_checks_1"


class Bench:
    def __init__(self, store: Store, n: int) -> None:
        self.store, self.n = store, n
        self.sources = [SourceConfig(name=f"p{i:05d}", url=f"http://127.0.0.2/p{i}.html")
                        for i in range(n)]
        store.sync_sources(self.sources)
        self.edits = [0] * n
        self.raw_sizes: list[int] = []

    def commit(self, i: int, at: datetime, raw: bytes | None) -> None:
        src = self.sources[i]
        state = self.store.page_state(src)
        version = None
        if raw is not None:
            decoded, _ = decode_html(raw, None)
            got = extract(decoded)
            content = got.title + got.text + repr(sorted(got.metadata.items()))
            version = NewVersion(
                content_hash=hashlib.sha256(content.encode()).hexdigest(), title=got.title,
                text=got.text, metadata=dict(got.metadata), raw=raw,
                raw_sha256=hashlib.sha256(raw).hexdigest(), http_status=200,
                headers={"content-type": "text/html; charset=utf-8",
                         "last-modified": at.strftime("%a, %d %b %Y %H:%M:%S GMT")},
                url=src.url, charset="utf-8", fetched_at=at)
            self.raw_sizes.append(len(raw))
        body = raw if raw is not None else page_bytes(i, self.edits[i], 0)
        rec = CheckRecord(
            page_id=state.page_id, expected_last_version_id=state.last.id if state.last else None,
            expected_revision=state.revision, started_at=at, duration=0.0123,
            outcome=("new" if state.last is None else "changed") if raw else "unchanged",
            http_status=200, bytes=len(body), raw_sha256=hashlib.sha256(body).hexdigest(),
            worker=WORKER, version=version, observed_at=at)
        self.store.commit_check(rec)

    def run(self, rounds: int, share: float) -> dict[str, float]:
        rng = random.Random(5)
        for i in range(self.n):
            self.commit(i, T0, page_bytes(i, 0, 0))
        before, first_raw = sizes(self.store), sum(self.raw_sizes)
        self.raw_sizes.clear()
        changed = checks = 0
        for r in range(1, rounds + 1):
            at = T0 + timedelta(minutes=10 * r)
            picked = set(rng.sample(range(self.n), max(1, round(self.n * share))))
            for i in range(self.n):
                if i in picked:
                    self.edits[i] += 1
                    self.commit(i, at, page_bytes(i, self.edits[i], r))
                    changed += 1
                else:
                    self.commit(i, at, None)
                checks += 1
        after = sizes(self.store)
        grow = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        version_bytes = sum(v for k, v in grow.items() if not check_tables(k))
        check_bytes = sum(v for k, v in grow.items() if check_tables(k))
        raw = sum(self.raw_sizes) / max(1, len(self.raw_sizes))
        return {"first": sum(before.values()) / self.n, "first_raw": first_raw / self.n,
                "changed": changed, "checks": checks, "raw": raw,
                "per_version": version_bytes / max(1, changed),
                "per_check": check_bytes / max(1, checks),
                "grow": grow}  # type: ignore[dict-item]


def report(label: str, r: dict, console: Console) -> None:  # type: ignore[type-arg]
    table = Table(title=f"{label}: database growth")
    for c in ("measure", "value"):
        table.add_column(c, justify="right" if c == "value" else "left")
    table.add_row("raw page (mean)", f"{r['raw']:,.0f} B")
    table.add_row("first version (whole db / pages)", f"{r['first']:,.0f} B")
    table.add_row("changed versions", f"{r['changed']:,}")
    table.add_row("per changed version (text+index+raw)", f"{r['per_version']:,.0f} B")
    table.add_row("  / raw page", f"{r['per_version'] / r['raw']:.1%}  (target ≤ 5%)")
    table.add_row("checks", f"{r['checks']:,}")
    table.add_row("per check (row + indexes)", f"{r['per_check']:,.0f} B  (target ≤ 300)")
    console.print(table)
    top = sorted(r["grow"].items(), key=lambda kv: -kv[1])[:10]
    console.print("growth by table/index: " + ", ".join(f"{k} {v:,}" for k, v in top if v))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--share", type=float, default=0.05)
    ap.add_argument("--postgres", help="an empty PostgreSQL database URL to measure too")
    ap.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    ap.add_argument("--keep", help="write the SQLite database here (a new file) to inspect")
    ap.add_argument("--seed", type=int, choices=range(4), help="build every page from this "
                    "seed (3: the Hubei plan template, 40 KB, the page of issue 12)")
    args = ap.parse_args()
    global SEED
    SEED = args.seed
    console = Console(width=120)
    with tempfile.TemporaryDirectory() as tmp:
        targets = [] if args.no_sqlite and args.postgres else [
            ("SQLite", f"sqlite:///{args.keep or f'{tmp}/bench.db'}")]
        if args.postgres:
            targets.append(("PostgreSQL", args.postgres))
        for label, url in targets:
            store = Store(url)
            try:
                report(label, Bench(store, args.pages).run(args.rounds, args.share), console)
            finally:
                store.close()


if __name__ == "__main__":
    main()
