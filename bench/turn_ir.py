"""Instructions of a commit inside the writers' turn, and of all of it (callgrind).

    .venv/bin/python -m bench.turn_ir [--case changed|first] [--pages 20] [--rounds 2]
                                      [--group N]

CPU time of a ~1 ms turn on a shared machine moves with its neighbours; instruction
counts do not.  This runs itself again under ``valgrind --tool=callgrind`` twice, with
collection off at the start, and toggles it (``CALLGRIND_TOGGLE_COLLECT``, from a
three-line C helper compiled here with ``cc``) when the SQLite store's turn
(``storage.turns``) is taken and given back, then around each ``commit_check``, then
around each read of the last version's text for the diff (``LastVersion.text``: a
changed check's other read of the store; ``--case changed`` only).  The
pages are ``bench.bench_commit``'s: ``--pages`` get a first version and two changed
ones untimed, then ``--rounds`` changed versions each are counted (``--case changed``),
or ``--pages`` more pages' first versions (``--case first``).  Printed: instructions
per commit, in the turn and in all, and of the text read a check (``--keep DIR``:
callgrind's files kept there, for ``callgrind_annotate``).  ``--group N``: the records
are made first, N at a time, and committed together (``Store.commit_checks``, as
``monitor check``'s group commit does; counted around each group, divided by its
records).  Needs ``valgrind``, its
``callgrind.h`` and ``cc``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HELPER = (
    "#include <valgrind/callgrind.h>\n"
    "void cg_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }\n"
    "void cg_start(void) { CALLGRIND_START_INSTRUMENTATION; }\n"
)


class _Toggled:
    """The store's turn, toggling collection while it is held."""

    def __init__(self, turn: Any, cg: Any) -> None:
        self.turn, self.cg, self.on, self.depth = turn, cg, False, 0

    def __enter__(self) -> Any:
        got = self.turn.__enter__()
        self.depth += 1
        if self.on and self.depth == 1:
            self.cg.cg_toggle()
        return got

    def __exit__(self, *exc: Any) -> Any:
        if self.on and self.depth == 1:
            self.cg.cg_toggle()
        self.depth -= 1
        return self.turn.__exit__(*exc)


class _TextClock:
    """``bench_commit.Clock``'s place in ``check``: the old text's read counted
    (``mode`` text), nothing else timed."""

    def __init__(self, cg: Any, on: bool) -> None:
        self.cg, self.on = cg, on

    def __call__(self, part: str, fn: Any) -> Any:
        toggled = self.on and part == "old text"
        if toggled:
            self.cg.cg_toggle()
        try:
            return fn()
        finally:
            if toggled:
                self.cg.cg_toggle()


def _inside(lib: str, mode: str, case: str, pages: int, rounds: int, group: int) -> None:
    """The run under callgrind: ``mode`` turn, commit or text."""
    from bench import bench_commit as bc
    from bench.bench_checkdb import version
    from monitor.config import SourceConfig
    from storage import Store

    cg = ctypes.CDLL(lib)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        turn = _Toggled(store._writer, cg)
        store._writer = turn  # type: ignore[assignment]
        n = pages * (2 if case == "first" else 1)
        sources = [
            SourceConfig(name=f"p{i:05d}", url=f"http://127.0.0.2/p{i}.html") for i in range(n)
        ]
        store.sync_sources(sources)
        for rev in (0, 1, 2):  # as bench.bench_commit: every page's first, then rounds
            for i, s in enumerate(sources[:pages]):
                bc.check(store, s, version(s, i, rev), bc.Clock())
        if case == "first":
            todo = [(s, version(s, i, 0)) for i, s in enumerate(sources) if i >= pages]
        else:
            todo = [
                (s, version(s, i, rev))
                for rev in range(3, 3 + rounds)
                for i, s in enumerate(sources)
            ]
        def counted(commit: Any) -> Any:
            def run(recs: Any) -> Any:
                if mode == "commit":
                    cg.cg_toggle()
                try:
                    return commit(recs)
                finally:
                    if mode == "commit":
                        cg.cg_toggle()
            return run

        store.commit_check = counted(store.commit_check)  # type: ignore[method-assign]
        commit_many = counted(store.commit_checks)
        cg.cg_start()
        turn.on = mode == "turn"
        clock = _TextClock(cg, mode == "text")
        if group <= 1:
            for s, new in todo:
                bc.check(store, s, new, clock)  # type: ignore[arg-type]
        for start in range(0, len(todo) if group > 1 else 0, group):
            commit_many([bc.record(store, s, new, clock)  # type: ignore[arg-type]
                         for s, new in todo[start:start + group]])
        store.close()


def _count(lib: str, mode: str, args: argparse.Namespace, tmp: str) -> int:
    out = Path(tmp) / f"callgrind.{mode}"
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--collect-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            __spec__.name,  # this module, however it was named
            "--case",
            args.case,
            "--pages",
            str(args.pages),
            "--rounds",
            str(args.rounds),
            "--group",
            str(args.group),
        ],
        env={**os.environ, "TURN_IR_INSIDE": f"{lib}:{mode}"},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError("callgrind wrote no totals")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", choices=("changed", "first"), default="changed")
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--group", type=int, default=1,
                    help="commit the records N at a time (Store.commit_checks)")
    ap.add_argument("--keep", metavar="DIR", help="keep callgrind's output files there")
    args = ap.parse_args()
    inside = os.environ.get("TURN_IR_INSIDE")
    if inside:
        lib, mode = inside.rsplit(":", 1)
        _inside(lib, mode, args.case, args.pages, args.rounds, args.group)
        return
    commits = args.pages * (1 if args.case == "first" else args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        lib = str(Path(tmp) / "libcg.so")
        (Path(tmp) / "cg.c").write_text(HELPER)
        subprocess.run(
            ["cc", "-O1", "-shared", "-fPIC", "-o", lib, str(Path(tmp) / "cg.c")], check=True
        )
        for mode in ("turn", "commit", "text")[:3 if args.case == "changed" else 2]:
            ir = _count(lib, mode, args, tmp)
            print(f"{args.case}: {mode:6} {ir / commits / 1e6:.2f} M instructions a "
                  + ("check" if mode == "text" else "commit"))
            if args.keep:  # for callgrind_annotate: where the instructions went
                Path(args.keep).mkdir(parents=True, exist_ok=True)
                (Path(tmp) / f"callgrind.{mode}").replace(Path(args.keep) / f"callgrind.{mode}")


if __name__ == "__main__":
    main()
