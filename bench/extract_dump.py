"""Every output of extraction over the corpus and the bench site, for a before/after check.

    .venv/bin/python -m bench.extract_dump OUT.jsonl [--pages 40]
    .venv/bin/python -m bench.extract_dump --compare BEFORE.jsonl AFTER.jsonl

Writes one JSON line per reading: the 21 corpus pages (``tests/fixtures/corpus/cn-gov``)
read by ``extract`` on its own parse and on the challenge checks' tree, without and with
the benchmark's ``ignore_text``; and ``--pages`` bench pages × revisions 0–5, each with
its content selector (as a check reads it) and without one (the article found).  Each
line holds the title, text, metadata, notes, attachments, documents and listing flags,
or the error a page is refused with.  Run it with the code before and after a change
and ``--compare`` the two files: any line that differs is printed and the exit status
is 1.  The per-line caches are emptied before each reading (a cold process), and a
second pass reads everything warm, so both ways through the caches are compared.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "corpus" / "cn-gov"
IGNORE_TEXT = ["点击[:：]\\s*\\d*"]
URL = "http://www.example.gov.cn/a/b.html"


def _clear() -> None:
    from monitor import canon, noise, spacing

    spacing.normalize_line.cache_clear()
    noise._strip_line.cache_clear()
    canon._CELLS.clear()
    canon.canonical_text.cache_clear()


def _reading(html: str, content: tuple[str, ...], tree: bool, **kw: object) -> object:
    from monitor import challenge
    from monitor.extract.html import extract

    try:
        parsed = None
        if tree:
            reading = challenge.read(html)
            reading.soft_404()
            reading.challenge(status=200, headers={}, content=content)
            parsed = reading.take_tree()
        e = extract(html, content=content, url=URL, parsed=parsed, **kw)
    except Exception as exc:  # refused the same way, or not
        return {"error": repr(exc)}
    return {k: _plain(v) for k, v in dataclasses.asdict(e).items()}


def _plain(v: object) -> object:
    return list(v) if isinstance(v, tuple) else v


def _cases(pages: int) -> list[tuple[str, str, tuple[str, ...], bool, list[str]]]:
    from bench.site import render, selector
    from monitor.fetch.encoding import decode_html

    out = []
    for p in sorted(CORPUS.glob("*.html")):
        html = decode_html(p.read_bytes(), None)[0]
        for tree in (False, True):
            for ignore in ([], IGNORE_TEXT):
                out.append((p.name, html, (), tree, ignore))
    for i in range(pages):
        for rev in range(6):
            html = decode_html(render(i, rev), None)[0]
            out.append((f"bench {i} rev {rev}", html, (selector(i),), True, IGNORE_TEXT))
            out.append((f"bench {i} rev {rev} found", html, (), True, IGNORE_TEXT))
    return out


def dump(path: Path, pages: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        for cold in (True, False):
            for name, html, content, tree, ignore in _cases(pages):
                if cold:
                    _clear()
                got = _reading(html, content, tree, ignore_text=ignore)
                key = {"page": name, "content": content, "tree": tree, "ignore": ignore,
                       "cold": cold}
                f.write(json.dumps({"key": key, "got": got}, ensure_ascii=False,
                                   sort_keys=True) + "\n")


def compare(before: Path, after: Path) -> int:
    a = before.read_text(encoding="utf-8").splitlines()
    b = after.read_text(encoding="utf-8").splitlines()
    bad = sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))
    for x, y in zip(a, b, strict=False):
        if x != y:
            print("before:", x[:400], "\nafter: ", y[:400], "\n")
    print(f"{len(a)} / {len(b)} readings, {bad} differ")
    return 1 if bad else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?")
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args()
    if args.compare:
        sys.exit(compare(Path(args.compare[0]), Path(args.compare[1])))
    dump(Path(args.out), args.pages)


if __name__ == "__main__":
    main()
