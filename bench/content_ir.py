"""Instructions of a changed check's content work, with the line caches warm or cold.

    .venv/bin/python -m bench.content_ir [--pages 20] [--cold] [--corpus] [--keep FILE]

What a changed check does between fetching and storing, per page (``callgrind``
instructions, steady on a loaded machine where CPU time is not): the challenge checks,
``extract`` of the new revision (its content selector and the benchmark's
``ignore_text``, as ``bench.bench_extract``), the snapshots of the new text and of the
last version's, and ``detect_change`` (the quick diff and the decision).  The bench
site's revision 1 is read first (the last version; its lines fill the caches, as a
pass of ``python -m bench`` leaves them), revision 2 is the changed page counted.
``--cold`` empties the per-line caches (``spacing.normalize_line``,
``noise._strip_line``, ``canon._CELLS``, ``canon.canonical_text``) before each page:
a site whose lines are its own, or the first checks of a process.  ``--corpus`` counts
the challenge checks, ``extract`` and the snapshot of each real page of the corpus
(``tests/fixtures/corpus/cn-gov``), caches emptied before each, twice over.

Runs itself again under ``valgrind --tool=callgrind`` with collection off, toggled
around the counted work (a three-line C helper compiled with ``cc``, as
``bench.turn_ir``).  Needs ``valgrind``, its ``callgrind.h`` and ``cc``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
from pathlib import Path

IGNORE_TEXT = ["点击[:：]\\s*\\d*"]  # what python -m bench gives every source
URL = "http://127.0.0.1/p/1.html"
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "corpus" / "cn-gov"
HELPER = "#include <valgrind/callgrind.h>\nvoid cg_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }\n"


def _clear() -> None:
    from monitor import canon, noise, spacing

    spacing.normalize_line.cache_clear()
    noise._strip_line.cache_clear()
    canon._CELLS.clear()
    canon.canonical_text.cache_clear()


def _read(html: str, content: tuple[str, ...], **kw: object) -> object:
    from monitor import challenge
    from monitor.extract.html import extract

    reading = challenge.read(html)
    reading.soft_404()
    reading.challenge(status=200, headers={}, content=content)
    return extract(html, content=content, url=URL, parsed=reading.take_tree(), **kw)


def _work(args: argparse.Namespace) -> list[object]:
    """The counted steps, one a page, each ready to run."""
    from bench.site import render, selector
    from monitor.detect import detect_change, snapshot
    try:  # the last version's snapshot as monitor.pipeline._last_now makes it
        from monitor.detect import stored_snapshot
    except ImportError:  # code before it
        stored_snapshot = snapshot
    from monitor.fetch.encoding import decode_html

    if args.corpus:
        pages = [decode_html(p.read_bytes(), None)[0] for p in sorted(CORPUS.glob("*.html"))]

        def page(html: str) -> None:
            try:
                e = _read(html, ())
            except Exception:  # a page refused is refused the same way each time
                return
            snapshot(e.title, e.text, e.metadata, [])  # type: ignore[attr-defined]

        for html in pages:
            page(html)  # the patterns compiled
        return [lambda html=html: page(html) for html in pages * 2]

    def check(i: int, old: object, html: str) -> None:
        new = _read(html, (selector(i),), ignore_text=IGNORE_TEXT)
        now = snapshot(new.title, new.text, new.metadata, [])  # type: ignore[attr-defined]
        last = stored_snapshot(old.title, old.text, old.metadata, [])  # type: ignore[attr-defined]
        detect_change(last, now)

    olds = [_read(decode_html(render(i, 1), None)[0], (selector(i),), ignore_text=IGNORE_TEXT)
            for i in range(args.pages)]
    news = [decode_html(render(i, 2), None)[0] for i in range(args.pages)]
    return [lambda i=i: check(i, olds[i], news[i]) for i in range(args.pages)]


def _inner(args: argparse.Namespace) -> None:
    work = _work(args)
    cg = ctypes.CDLL(os.environ["CONTENT_IR_HELPER"])
    for step in work:
        if args.cold or args.corpus:
            _clear()
        cg.cg_toggle()
        step()
        cg.cg_toggle()
    print(f"steps {len(work)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--cold", action="store_true", help="line caches emptied before each page")
    ap.add_argument("--corpus", action="store_true", help="the corpus's real pages instead")
    ap.add_argument("--keep", metavar="FILE", help="keep the callgrind output there")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        return _inner(args)
    with tempfile.TemporaryDirectory() as tmp:
        helper = Path(tmp) / "cg.so"
        (Path(tmp) / "cg.c").write_text(HELPER)
        subprocess.run(["cc", "-shared", "-fPIC", "-o", str(helper), str(Path(tmp) / "cg.c")],
                       check=True)
        out = Path(args.keep).resolve() if args.keep else Path(tmp) / "callgrind.out"
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", "--collect-atstart=no",
             f"--callgrind-out-file={out}", sys.executable, "-m", "bench.content_ir",
             "--inner", *sys.argv[1:]],
            env={**os.environ, "CONTENT_IR_HELPER": str(helper)},
            capture_output=True, text=True, check=True)
        steps = int(run.stdout.split("steps ")[-1].split()[0])
        total = next(int(line.split()[-1].replace(",", "")) for line in run.stderr.splitlines()
                     if "Collected :" in line)
    what = "corpus page readings" if args.corpus else \
        f"changed checks ({'cold' if args.cold else 'warm'} line caches)"
    print(f"{total / steps / 1e6:.1f} M instructions a page, {steps} {what}")


if __name__ == "__main__":
    main()
