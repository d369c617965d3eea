"""What watchers' triggers cost a check, and what Apprise costs a process.

    .venv/bin/python -m bench.bench_triggers [--runs N] [--watchers W]

For one change of a seed page (and of a 100,000-character page), the time
``alerts.plan.change_alerts`` takes to decide for W watchers that each have a
``when_added`` list (one word their own), a ``when_matches`` regex (the same for all:
it is run once per change; distinct regexes cost one run each) and ``kinds`` (median
and p95 of ``--runs``, ``change_text`` included), against W watchers without
triggers; edits: a reply inserted mid-page, and that plus an edit of the first line
(the versions then share only their end); then the time and memory of the
first ``import apprise`` (paid only by a process that sends an Apprise alert).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from alerts import plan, triggers
from monitor.config import parse_config
from monitor.types import ChangeDecision, ChangeKind, Snapshot

SEEDS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "seeds"
WATCHER = """
[[watchers]]
name = "w{i}"
email = "w{i}@example.cn"
sources = ["s"]
{triggers}
"""
TRIGGERS = ('when_added = ["答复", "办结", "专项资金", "第{i}号"]\n'
            "when_matches = '\\d+(\\.\\d+)?万元'\nkinds = [\"changed\", \"reply_added\"]")


def config(n: int, with_triggers: bool):  # type: ignore[no-untyped-def]
    text = '[[sources]]\nname = "s"\nurl = "http://example.gov.cn/a.html"\n' + "".join(
        WATCHER.format(i=i, triggers=TRIGGERS.format(i=i) if with_triggers else "")
        for i in range(n))
    return parse_config(text)


def timed(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def pages() -> dict[str, str]:
    out = {p.name.split("_")[0]: p.read_text(encoding="utf-8")
           for p in sorted(SEEDS.glob("*.txt"))[:1]}
    out["100k"] = ("一、加快推进产业集群建设，今年安排专项资金3000万元。\n" * 4000)[:100_000]
    return out


REPLY = "\n答复：已办结，追加专项资金5000万元。\n"


def edits(text: str) -> dict[str, str]:
    """A reply inserted mid-page; and the same with the first line edited too (what
    the two versions share is then only the end)."""
    i = text.index("\n", len(text) // 2)
    middle = text[:i] + REPLY + text[i:]
    return {"one": middle, "start+middle": "修订：" + middle}


def apprise_import() -> tuple[float, int]:
    """Milliseconds and KiB of peak RSS ``import apprise`` adds to a fresh interpreter
    (VmHWM: ru_maxrss would be inherited from this process across fork)."""
    hwm = ("int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))"
           ".split()[1])")
    code = f"import time; t = time.perf_counter(); import apprise; " \
           f"print(time.perf_counter() - t, {hwm})"
    out = [subprocess.run([sys.executable, "-c", c], capture_output=True, text=True,
                          check=True).stdout.split() for c in (code, f"print(0, {hwm})")]
    return float(out[0][0]) * 1000, int(out[0][1]) - int(out[1][1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--watchers", type=int, default=50)
    args = ap.parse_args()
    table = Table("page", "chars", "edit", "watchers", "triggers", "median ms", "p95 ms")
    now = datetime.now(UTC)
    for name, text in pages().items():
        for edit, new in edits(text).items():
            change = ChangeDecision(ChangeKind.REPLY_ADDED, "", details={"kinds": ["changed"]})
            old_v, new_v = Snapshot("t", text), Snapshot("t", new)
            for with_triggers in (False, True):
                cfg = config(args.watchers, with_triggers)
                src = cfg.source("s")

                def run(cfg=cfg, src=src, change=change, old_v=old_v, new_v=new_v) -> int:  # type: ignore[no-untyped-def]
                    words = triggers.change_text(change, old_v, new_v)
                    return len(plan.change_alerts(cfg, src, 0, now, words))

                assert run() == args.watchers  # every watcher's triggers hold
                med, p95 = timed(run, args.runs)
                table.add_row(name, str(len(text)), edit, str(args.watchers),
                              "yes" if with_triggers else "no", f"{med:.2f}", f"{p95:.2f}")
    Console().print(table)
    ms, kb = apprise_import()
    print(f"import apprise: {ms:.0f} ms, +{kb / 1024:.1f} MiB max RSS "
          f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
