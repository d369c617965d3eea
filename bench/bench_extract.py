"""CPU of reading a changed page: the challenge checks and ``extract``, by part.

    python -m bench.bench_extract [--pages 100] [--rounds 5] [--stages]

What a changed check of ``python -m bench`` does with a page between fetching and
hashing, without the server, the database or the event loop: the bench site's pages
(``bench.site.render``, 30–120 KB) are read at revision 0 first (the caches warm, as
in the first pass of ``python -m bench``), then at revisions 1…``rounds``, each page
with its content selector and the benchmark's ``ignore_text``, as
``monitor.pipeline._content`` does (``challenge.read``: its soft-404 and challenge
checks, the tree handed over to ``extract``; run from an older checkout, whatever it did).
Prints the median over rounds of the CPU ms a page (``time.process_time``), in all and
by part (a wrapper around each part: a few calls a page, so they cost nothing to speak
of).

``--stages`` times with the stage timers of ``bench.stages`` instead (the "extract" and
"normalize" columns of ``python -m bench``'s stage split).  Those wrap the entry points
of ``monitor.noise`` and ``monitor.normalize`` and ``normalize_line`` where extraction
calls it by that module's name, so each such call adds the timers' own few µs: the
figures are a little higher than the plain ones.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

IGNORE_TEXT = ["点击[:：]\\s*\\d*"]  # what python -m bench gives every source
URL = "http://127.0.0.1/p/1.html"


def _pages(count: int, rev: int) -> list[tuple[str, str]]:
    from bench.site import render, selector
    from monitor.fetch.encoding import decode_html

    return [(decode_html(render(i, rev), None)[0], selector(i)) for i in range(count)]


def _read(pages: list[tuple[str, str]], extract: Callable[..., Any]) -> None:
    from monitor import challenge

    if not hasattr(challenge, "read"):  # code from before the Reading
        return _read_before(pages, extract)
    for html, selector in pages:
        reading = challenge.read(html)
        reading.soft_404()
        reading.challenge(status=200, headers={}, content=(selector,))
        extract(html, content=(selector,), ignore_text=IGNORE_TEXT, url=URL,
                parsed=reading.take_tree())


def _read_before(pages: list[tuple[str, str]], extract: Callable[..., Any]) -> None:
    from monitor import challenge

    take = getattr(challenge, "take_parsed", None)  # None: code from before the hand-over
    for html, selector in pages:
        challenge.detect_soft_404(html)
        challenge.detect_challenge(html, status=200, headers={}, content=(selector,))
        kw = {"parsed": take(html)} if take is not None else {}
        extract(html, content=(selector,), ignore_text=IGNORE_TEXT, url=URL, **kw)


def _parts(spent: dict[str, float]) -> None:
    """Wrap the parts of reading a page with timers adding to ``spent``."""
    from monitor import challenge
    from monitor.extract import html

    def wrap(owner: object, name: str, label: str) -> None:
        fn = getattr(owner, name)

        def run(*a: Any, **kw: Any) -> Any:
            t0 = time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                spent[label] += time.process_time() - t0
        setattr(owner, name, run)

    wrap(challenge, "_parse", "challenge checks' parse (tree handed over)")
    for name, label in (("LexborHTMLParser", "extract's own parse"),
                        ("_content", "content and layout"),
                        ("normalize_with_notes", "normalize_with_notes"),
                        ("_metadata", "metadata"), ("page_title", "title"),
                        ("_select", "content selector")):
        wrap(html, name, label)
    wrap(html.noise, "remove_dom_noise", "DOM noise (hidden, widgets, rules)")
    wrap(html.files, "find", "attachments (links' reader)")
    wrap(html.mojibake, "repair", "mojibake check")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--stages", action="store_true", help="bench.stages' timers instead")
    args = ap.parse_args()
    spent: dict[str, float] = defaultdict(float)
    if args.stages:
        from bench import stages

        stages.instrument()
        from monitor import pipeline
        extract, spent = pipeline.extract, stages.spent  # type: ignore[assignment]
    else:
        from monitor.extract import html
        _parts(spent)
        extract = html.extract
    _read(_pages(args.pages, 0), extract)
    totals: list[float] = []
    parts: dict[str, list[float]] = defaultdict(list)
    for rev in range(1, args.rounds + 1):
        pages = _pages(args.pages, rev)
        spent.clear()
        t0 = time.process_time()
        _read(pages, extract)
        totals.append((time.process_time() - t0) / len(pages) * 1000)
        for label, s in spent.items():
            parts[label].append(s / len(pages) * 1000)
    print(f"{args.pages} pages, {args.rounds} rounds: {statistics.median(totals):.2f} CPU ms "
          "a page (challenge checks + extract), medians")
    for label, values in sorted(parts.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {label:45s} {statistics.median(values):6.2f}")


if __name__ == "__main__":
    main()
