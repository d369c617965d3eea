"""CPU of a changed check's reads of the store, repeated: the last version's text for
the diff (``LastVersion.text``) and ``Store._prepare`` (what the commit reads and
computes before the writers' turn).

    .venv/bin/python -m bench.bench_reads [--pages 20] [--versions 9] [--reps 20]
                                          [--postgres URL] [--profile] [--ir]

``--pages`` pages of ``bench.site`` get ``--versions`` versions each (as
``bench.bench_commit``: one sentence added and the counter moved a version; their raw
bodies a delta chain of ``--versions - 1`` links), then the next version of each is read
for, without being committed: both reads write nothing, so the same reads are repeated
``--reps`` times over the pages and the CPU of this process (``time.process_time``;
PostgreSQL's server not in it) divided by the reads made.  ``--ir``: instructions
instead (SQLite), this run again under callgrind twice, collecting only inside the text
reads, then only inside ``_prepare`` (as ``bench.turn_ir``, which counts the same reads
inside whole commits: its ``text`` line, and ``commit``).
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

from bench import bench_commit as bc
from bench.bench_checkdb import version
from monitor.config import SourceConfig
from storage import Store


def run(url: str, pages: int, versions: int, reps: int, profile: bool,
        toggle: Callable[[str], None] = lambda part: None) -> dict[str, float]:
    """CPU ms a read (text, prepare); ``toggle(part)`` is called before and after each."""
    store = Store(url)
    try:
        sources = [SourceConfig(name=f"p{i:05d}", url=f"http://127.0.0.2/p{i}.html")
                   for i in range(pages)]
        store.sync_sources(sources)
        for rev in range(versions):
            for i, s in enumerate(sources):
                bc.check(store, s, version(s, i, rev), bc.Clock())
        todo = [(store.page_state(s), version(s, i, versions)) for i, s in enumerate(sources)]
        prof = cProfile.Profile() if profile else None
        spent = {"text": 0.0, "prepare": 0.0}
        for _ in range(reps):
            for state, new in todo:
                last = state.last
                assert last is not None
                t0 = time.process_time()
                if prof:
                    prof.enable()
                toggle("text")
                text = last.read_text()  # a fresh read each time (not the cached one)
                toggle("text")
                t1 = time.process_time()
                toggle("prepare")
                store._prepare(state.page_id, new)
                toggle("prepare")
                if prof:
                    prof.disable()
                t2 = time.process_time()
                spent["text"] += t1 - t0
                spent["prepare"] += t2 - t1
                assert text
        if prof:
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)
        return {k: v / (reps * pages) * 1000 for k, v in spent.items()}
    finally:
        store.close()


def _ir(args: argparse.Namespace) -> None:
    """Instructions a read, counted under callgrind (see the module doc)."""
    from bench.turn_ir import HELPER

    with tempfile.TemporaryDirectory() as tmp:
        lib = str(Path(tmp) / "libcg.so")
        (Path(tmp) / "cg.c").write_text(HELPER)
        subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", lib, str(Path(tmp) / "cg.c")],
                       check=True)
        for part in ("text", "prepare"):
            out = Path(tmp) / f"callgrind.{part}"
            subprocess.run(
                ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
                 f"--callgrind-out-file={out}", sys.executable, "-m", __spec__.name,
                 "--pages", str(args.pages), "--versions", str(args.versions),
                 "--reps", str(args.reps)],
                env={**os.environ, "BENCH_READS_INSIDE": f"{lib}:{part}"}, check=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            total = next(int(line.split()[1]) for line in out.read_text().splitlines()
                         if line.startswith(("summary:", "totals:")))
            print(f"SQLite: {part:7} {total / (args.reps * args.pages) / 1e6:.3f} M "
                  "instructions a check")


def _inside(spec: str, args: argparse.Namespace) -> None:
    """The run under callgrind: collection on inside ``part`` only."""
    lib, part = spec.rsplit(":", 1)
    cg = ctypes.CDLL(lib)
    started = False

    def toggle(what: str) -> None:
        nonlocal started
        if what == part:
            if not started:
                cg.cg_start()
                started = True
            cg.cg_toggle()

    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", args.pages, args.versions, args.reps, False, toggle)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--versions", type=int, default=9)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--postgres", help="a PostgreSQL URL: a new database on its server")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--ir", action="store_true", help="instructions (callgrind), SQLite")
    args = ap.parse_args()
    if os.environ.get("BENCH_READS_INSIDE"):
        _inside(os.environ["BENCH_READS_INSIDE"], args)
        return
    if args.ir:
        _ir(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        targets = [] if args.no_sqlite else [("SQLite", f"sqlite:///{tmp}/bench.db")]
        if args.postgres:
            targets.append(("PostgreSQL", args.postgres))
        for label, url in targets:
            with (bc.scratch_postgres(url) if label == "PostgreSQL" else nullcontext(url)) as db:
                got = run(db, args.pages, args.versions, args.reps, args.profile)
            print(f"{label}: text {got['text']:.3f} ms, _prepare {got['prepare']:.3f} ms "
                  "a check (CPU of this process)")


if __name__ == "__main__":
    main()
