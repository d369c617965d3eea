"""How long a diff takes, from the diff to what a reader gets (HTML and text).

    .venv/bin/python -m bench.bench_diff [--runs N]

Typical edits of the four seed pages, two unrelated 30,000-character texts (the bound
is hit and the diff falls back to paragraphs) and a 100,000-character text with one
edit.  Times are median and p95 of diff + semantic cleanup + render_html + render_text.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from monitor.diff import diff_texts, diff_texts_async, shutdown_diff_workers
from monitor.render import render_html, render_text, summary

SEEDS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "seeds"
TIMEOUT = 0.5  # settings.diff_timeout's default


def seeds() -> dict[str, str]:
    return {p.name.split("_")[0]: p.read_text(encoding="utf-8")
            for p in sorted(SEEDS.glob("*.txt"))}


def _paras(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


def one_char(text: str) -> str:
    p = max(_paras(text), key=len)
    i = len(p) // 2
    return text.replace(p, p[:i] + ("甲" if p[i] != "甲" else "乙") + p[i + 1:], 1)


def sentence_added(text: str) -> str:
    p = max(_paras(text), key=len)
    return text.replace(p, p + "本项工作将于今年年底前全面完成并向社会公布。", 1)


def amount_changed(text: str) -> str:
    m = re.search(r"(\d+)(?=\s*余?(?:亿元|万元|元|%|家|个|名))", text)
    assert m, "no amount in the text"
    return text[:m.start()] + str(int(m.group(1)) + 1) + text[m.end():]


def paragraph_removed(text: str) -> str:
    long = [p for p in _paras(text) if len(p.strip()) >= 20]
    return text.replace(long[len(long) // 2] + "\n", "", 1)


def reply_appended(text: str) -> str:
    body = _paras(seeds()["001"])[4:7]
    reply = "\n部门答复\n委员：\n您提出的建议收悉，现答复如下：\n" + "\n".join(body)
    return text.rstrip("\n") + reply


EDITS: dict[str, Callable[[str], str]] = {
    "one char": one_char, "sentence added": sentence_added, "amount changed": amount_changed,
    "paragraph removed": paragraph_removed, "reply appended": reply_appended,
}


def unrelated(n: int) -> tuple[str, str]:
    s = seeds()
    a, b = s["003"], s["001"] + "\n" + s["002"] + "\n" + s["000"]
    return (a * (n // len(a) + 1))[:n], (b * (n // len(b) + 1))[:n]


def big_one_edit(n: int) -> tuple[str, str]:
    s = seeds()
    base = "\n".join(s[k] for k in sorted(s))
    old = (base * (n // len(base) + 1))[:n]
    i = old.index("超过4亿元")
    return old, old[:i] + "超过5亿元" + old[i + 5:]


def measure(old: str, new: str, runs: int) -> tuple[list[float], list[float], object]:
    diff_times, totals = [], []
    d = None
    for _ in range(runs):
        t0 = time.perf_counter()
        d = diff_texts(old, new, timeout=TIMEOUT)
        t1 = time.perf_counter()
        render_html(d)
        render_text(d)
        t2 = time.perf_counter()
        diff_times.append(t1 - t0)
        totals.append(t2 - t0)
    return diff_times, totals, d


def measure_async(old: str, new: str, runs: int) -> tuple[list[float], list[float], object]:
    async def go() -> tuple[list[float], list[float], object]:
        diff_times, totals = [], []
        d = None
        for _ in range(runs):
            t0 = time.perf_counter()
            d = await diff_texts_async(old, new, timeout=TIMEOUT)
            t1 = time.perf_counter()
            render_html(d)
            render_text(d)
            diff_times.append(t1 - t0)
            totals.append(time.perf_counter() - t0)
        return diff_times, totals, d

    try:
        return asyncio.run(go())
    finally:
        shutdown_diff_workers()


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30, help="runs of each fast case")
    args = ap.parse_args()
    table = Table(title=f"diff + cleanup + render_html + render_text (bound {TIMEOUT}s)")
    for col in ("case", "chars", "diff median ms", "total median ms", "total p95 ms",
                "exact", "summary"):
        table.add_column(col, justify="left" if col in ("case", "summary") else "right")
    cases: list[tuple[str, str, str, int, Callable[..., tuple]]] = []
    for key, text in seeds().items():
        for name, edit in EDITS.items():
            cases.append((f"{key}: {name}", text, edit(text), args.runs, measure))
    slow = max(3, args.runs // 6)
    cases.append(("unrelated 30K chars", *unrelated(30_000), slow, measure))
    cases.append(("unrelated 30K chars, async", *unrelated(30_000), slow, measure_async))
    cases.append(("100K chars, one edit", *big_one_edit(100_000), args.runs, measure))
    for name, old, new, runs, how in cases:
        diff_times, totals, d = how(old, new, runs)
        table.add_row(name, f"{len(old):,}", f"{statistics.median(diff_times) * 1000:.1f}",
                      f"{statistics.median(totals) * 1000:.1f}", f"{p95(totals) * 1000:.1f}",
                      "yes" if d.exact else "no", summary(d))
    console = Console()
    if not console.is_terminal:  # piped: do not wrap the table at 80 columns
        console = Console(width=150)
    console.print(table)


if __name__ == "__main__":  # the guard also keeps spawned diff workers from running it
    main()
