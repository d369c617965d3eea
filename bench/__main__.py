"""``python -m bench``: how fast a check is, against urlwatch and the bare limit.

    .venv/bin/python -m bench [--quick] [--pages N] [--concurrency C] [--no-urlwatch]

Starts ``bench.site`` (generated government pages of 30–120 KB, served with
``TCP_NODELAY`` from 127.0.0.2 … and from 127.0.0.1) and, for pages spread over many
hosts and then all on one host (per-host limit raised to the concurrency), runs in the
same run:

- ``monitor check`` (its own process, a fresh SQLite database, ``check_workers`` =
  ``--workers``, by default one per core): first pass, unchanged with ETags (304s),
  unchanged without, 10% of the pages changed, every page changed;
- the **bare limit** (``bench.bare``): httpx fetch + selectolax parse + SHA-256 of the
  content selector's text, same URLs and concurrency, in as many processes as monitor
  has workers, nothing stored;
- **urlwatch** 2.29 from PyPI in ``bench/.venv-urlwatch`` (made on the first run), with
  the same URLs, ``css`` filter and thread count, its cache in a temporary directory;
- a stage split of monitor's CPU per check (``bench.stages``), many hosts only.

Rates are checks per wall-clock second of the whole command (start-up included, as a
user or cron sees it); CPU is the process's user + system time (``os.wait4``), children
(diff workers) included.  Each run also records what the *rest* of the machine used
meanwhile (``others``: cores, from ``/proc/stat``, minus the command's and the site's CPU;
hypervisor steal counts): a rate marked ``~`` ran while others used ≥ ``LOADED`` of a
core, and is low because of them, not of the tool (a shared 2-core machine; see "One
host and many hosts" in bench/README.md).  Prints one table and writes
``bench/results/*.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.site import selector

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
URLWATCH_VENV = HERE / ".venv-urlwatch"
URLWATCH_PINS = ["urlwatch==2.29", "lxml==6.2.0", "cssselect==1.6.0"]
CASES = [  # name, server sends ETags, pages bumped before ("every/offset")
    ("first pass", True, None),
    ("unchanged, ETag", True, None),
    ("unchanged, no ETag", False, None),
    ("10% changed", False, "10/0"),
    ("all changed", False, "1/0"),
]
LOADED = 0.25  # cores used by other processes during a run that mark its rate "~"
EXPECTED = {"first pass": "new", "unchanged, ETag": "unchanged",
            "unchanged, no ETag": "unchanged", "10% changed": "changed",
            "all changed": "changed"}


@dataclass
class Run:
    tool: str
    mode: str
    case: str
    checks: int
    wall_s: float
    cpu_s: float
    ok: bool = True  # the outcomes were the expected ones
    detail: dict[str, object] = field(default_factory=dict)
    others: float = 0.0  # cores the rest of the machine used meanwhile (``timed``)

    @property
    def rate(self) -> float:
        return self.checks / self.wall_s

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / self.checks


def timed(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None,
          site: Site | None = None,
          errors: list[str] | None = None) -> tuple[float, float, int, str, float]:
    """Wall and CPU seconds (children included) of ``cmd``, its exit code, its stdout,
    and the cores the rest of the machine used meanwhile (besides ``cmd`` and ``site``).
    The end of its stderr is added to ``errors`` when it exits with another code than 0
    or 1 (a crash, a refusal): the table's ``(!)`` line then says why."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        busy0, site0 = machine_busy(), process_cpu(site)
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        cpu = ru.ru_utime + ru.ru_stime
        others = machine_busy() - busy0 - cpu - (process_cpu(site) - site0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if errors is not None and proc.returncode not in (0, 1):
            err.seek(0)
            errors.append(err.read().decode(errors="replace")[-2000:])
        out.seek(0)
        return wall, cpu, proc.returncode, out.read().decode(), max(0.0, others) / wall


def machine_busy() -> float:
    """CPU seconds every process of the machine has used, with the time the hypervisor
    gave our CPUs to others (steal): ``/proc/stat``; 0 where there is none."""
    try:
        first = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()
        user, nice, system, _idle, _wait, irq, softirq, steal = map(int, first[1:9])
    except (OSError, ValueError):
        return 0.0
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def process_cpu(site: Site | None) -> float:
    """User + system seconds of the site's process so far (0 without one)."""
    if site is None:
        return 0.0
    try:
        fields = Path(f"/proc/{site.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Site:
    def __init__(self, pages: int, hosts: int, port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.site", "--pages", str(pages), "--hosts", str(hosts),
             "--port", str(port)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=_env())
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != b"ready":
            raise SystemExit("bench.site did not start")
        self.control_base = f"http://127.0.0.1:{port}"

    def control(self, path: str) -> None:
        with urllib.request.urlopen(self.control_base + path, timeout=120) as r:
            r.read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # the site ends when its stdin does
        self.proc.wait()


def _env() -> dict[str, str]:
    # the bench's settings are its own: no MONITOR_* of the caller's overrides them
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(k, None)
    env["NO_PROXY"] = env["no_proxy"] = "*"
    # compiled modules cached as an installed package has them (urlwatch's venv does),
    # outside the tree: without it every run would compile monitor's sources again
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "monitor-bench-pycache")
    return env


def warm_up() -> None:
    """Compile every module the timed runs import, once, before any is timed."""
    subprocess.run([sys.executable, "-c", "import monitor.cli, monitor.cli.check, "
                    "bench.bare, bench.stages, monitor.diff"], cwd=ROOT, env=_env(),
                   check=True)


def urls(pages: int, hosts: int, port: int, mode: str) -> list[tuple[str, str]]:
    def host(i: int) -> str:
        return "127.0.0.1" if mode == "one host" else f"127.0.0.{2 + i % hosts}"
    return [(f"http://{host(i)}:{port}/p/{i}.html", selector(i)) for i in range(pages)]


def monitor_toml(jobs: list[tuple[str, str]], tmp: Path, concurrency: int, mode: str,
                 workers: int = 1) -> Path:
    host_c = concurrency if mode == "one host" else 1
    lines = ["[settings]", f'database_url = "sqlite:///{tmp}/monitor.db"',
             f'outbox_dir = "{tmp}/outbox"', "host_delay = 0", f"concurrency = {concurrency}",
             f"check_workers = {workers}",
             f"host_concurrency = {host_c}", "allow_private_network = true",
             "respect_robots = false", "retries = 0", ""]
    for i, (url, sel) in enumerate(jobs):
        lines += ["[[sources]]", f'name = "p{i}"', f'url = "{url}"', f'content = "{sel}"',
                  "ignore_text = ['点击[:：]\\s*\\d*']", 'interval = "1d"', ""]
    path = tmp / "sources.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_monitor(site: Site, jobs: list[tuple[str, str]], mode: str, c: int,
                workers: int = 1, cases: list[str] | None = None) -> list[Run]:
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as d:
        toml = monitor_toml(jobs, Path(d), c, mode, workers)
        cmd = [sys.executable, "-m", "monitor", "check", "--sources", str(toml),
               "--no-deliver", "--json"]
        for case, _etag, _bump in _prepared(site, cases):
            errors: list[str] = []
            wall, cpu, rc, out, others = timed(cmd, cwd=Path(d), env=_env(), site=site,
                                               errors=errors)
            outcomes: dict[str, int] = {}
            if rc in (0, 1) and out.strip():
                for r in json.loads(out)["results"]:
                    outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
            detail: dict = {"outcomes": outcomes, "exit": rc}
            if errors:
                detail["stderr"] = errors[0]
            runs.append(Run("monitor", mode, case, len(jobs), wall, cpu,
                            _expected(case, outcomes, len(jobs)), detail, others))
    return runs


def selected(keys: list[str] | None) -> list[str]:
    """The cases whose name contains one of ``keys`` (``--cases``), and the first pass,
    which every other case needs (it stores the versions they compare with)."""
    return [case for case, _, _ in CASES
            if case == "first pass" or keys is None or any(k in case for k in keys)]


def _prepared(site: Site, cases: list[str] | None = None):  # type: ignore[no-untyped-def]
    """Sets the site up for each case in turn (``cases``: those only), yielding it."""
    site.control("/_ctl/reset")
    for case, etag, bump in CASES:
        if cases is not None and case not in cases:
            continue
        site.control(f"/_ctl/etag/{int(etag)}")
        if bump:
            site.control(f"/_ctl/bump/{bump}")
        yield case, etag, bump


def _expected(case: str, outcomes: dict[str, int], n: int) -> bool:
    bump = next(b for c, _, b in CASES if c == case)
    every, offset = map(int, (bump or "0/0").split("/"))
    want = len(range(offset, n, every)) if every else n  # as bench.site bumps them
    return outcomes.get(EXPECTED[case], 0) == want and sum(outcomes.values()) == n


def ensure_urlwatch() -> Path:
    exe = URLWATCH_VENV / "bin" / "urlwatch"
    if not exe.exists():
        print("installing urlwatch into", URLWATCH_VENV, file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(URLWATCH_VENV)], check=True)
        subprocess.run([str(URLWATCH_VENV / "bin" / "pip"), "install", "-q", *URLWATCH_PINS],
                       check=True)
    return exe


def run_urlwatch(site: Site, jobs: list[tuple[str, str]], mode: str,
                 cases: list[str] | None = None) -> list[Run]:
    exe, runs = ensure_urlwatch(), []
    with tempfile.TemporaryDirectory(prefix="bench-urlwatch-") as d:
        tmp = Path(d)
        docs = [f"name: p{i}\nurl: {u}\nfilter:\n  - css: '{s}'\n" for i, (u, s) in
                enumerate(jobs)]
        (tmp / "urls.yaml").write_text("---\n".join(docs), encoding="utf-8")
        (tmp / "urlwatch.yaml").write_text(
            "display:\n  new: true\n  error: true\n  unchanged: false\n"
            "report:\n  text:\n    details: true\n    footer: false\n"
            "  stdout:\n    enabled: true\n    color: false\n"
            "  email:\n    enabled: false\n", encoding="utf-8")
        (tmp / "hooks.py").write_text("", encoding="utf-8")
        cmd = [str(exe), "--urls", str(tmp / "urls.yaml"), "--config",
               str(tmp / "urlwatch.yaml"), "--hooks", str(tmp / "hooks.py"),
               "--cache", str(tmp / "cache.db")]
        for case, _etag, _bump in _prepared(site, cases):
            wall, cpu, rc, out, others = timed(cmd, cwd=tmp, env=_env(), site=site)
            # the report's summary: "01. NEW: p0", "02. CHANGED: p7"…
            counts = {k: len(re.findall(rf"^\d+\. {k.upper()}: ", out, re.M))
                      for k in ("new", "changed", "error")}
            counts["unchanged"] = len(jobs) - counts["new"] - counts["changed"] - counts["error"]
            runs.append(Run("urlwatch", mode, case, len(jobs), wall, cpu,
                            _expected(case, counts, len(jobs)), {"outcomes": counts,
                                                                 "exit": rc}, others))
    return runs


def run_bare(jobs: list[tuple[str, str]], mode: str, c: int, processes: int = 1,
             site: Site | None = None) -> Run:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(jobs, f)
        f.flush()
        wall, cpu, rc, _, others = timed(
            [sys.executable, "-m", "bench.bare", f.name, "--concurrency", str(c),
             "--processes", str(processes)], cwd=ROOT, env=_env(), site=site)
    return Run("bare", mode, "fetch+parse+hash", len(jobs), wall, cpu, rc == 0, {}, others)


def run_stages(site: Site, jobs: list[tuple[str, str]], c: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as d:
        toml = monitor_toml(jobs, Path(d), c, "many hosts")
        _, _, rc, out, _ = timed([sys.executable, "-m", "bench.stages", str(toml),
                               site.control_base], cwd=Path(d), env=_env())
    return json.loads(out) if rc == 0 else {}


def medians(runs: list[Run]) -> dict[tuple[str, str, str], Run]:
    """Each (tool, hosts, case) of the runs as one: the median wall and CPU times of its
    repeats (``--repeat``; on a shared 2-core machine one run's rate moves by up to 2×),
    ok only when every repeat's outcomes were."""
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for r in runs:
        groups.setdefault((r.tool, r.mode, r.case), []).append(r)
    return {k: replace(rs[0], wall_s=statistics.median(r.wall_s for r in rs),
                       cpu_s=statistics.median(r.cpu_s for r in rs),
                       others=statistics.median(r.others for r in rs),
                       ok=all(r.ok for r in rs), detail={**rs[0].detail, "repeats": len(rs)})
            for k, rs in groups.items()}


def table(runs: list[Run], stages: dict[str, object], title: str) -> Table:
    t = Table(title=title)
    for col in ("hosts", "case", "monitor checks/s", "CPU ms/check", "urlwatch checks/s",
                "CPU ms/check", "rate ÷ urlwatch", "CPU urlwatch ÷ monitor",
                "rate ÷ bare"):
        t.add_column(col, justify="right" if "/" in col or "÷" in col else "left")
    by = medians(runs)
    for mode in ("many hosts", "one host"):
        bare = by.get(("bare", mode, "fetch+parse+hash"))
        if bare is None:
            continue
        for case, _, _ in CASES:
            m, u = by.get(("monitor", mode, case)), by.get(("urlwatch", mode, case))
            t.add_row(mode, case, _rate(m), _cpu(m), _rate(u), _cpu(u),
                      f"{m.rate / u.rate:.2f}×" if m and u else "—",
                      f"{u.cpu_s / m.cpu_s:.2f}×" if m and u else "—",
                      f"{m.rate / bare.rate:.0%}" if m else "—")
        t.add_row(mode, "bare limit (httpx+selectolax+hash)", "", "", "", "", "", "",
                  f"{bare.rate:.0f}/s{_loaded(bare)}, {bare.cpu_ms:.1f} ms")
    return t


def stage_table(stages: dict[str, object]) -> Table:
    from bench.stages import STAGES
    t = Table(title="monitor check: CPU ms per check by stage (many hosts, no ETags)")
    t.add_column("case")
    for s in (*STAGES, "total"):
        t.add_column(s, justify="right")
    for case, data in stages.items():
        ms = data["ms_per_check"]  # type: ignore[index]
        t.add_row(case, *(f"{ms[s]:.1f}" for s in STAGES), f"{sum(ms.values()):.1f}")
    return t


def _rate(r: Run | None) -> str:
    return "—" if r is None else f"{r.rate:.0f}{_loaded(r)}" + ("" if r.ok else " (!)")


def _loaded(r: Run) -> str:
    """``~`` after the rate of a run other processes took ``LOADED`` cores from."""
    return " ~" if r.others >= LOADED else ""


def _cpu(r: Run | None) -> str:
    return "—" if r is None else f"{r.cpu_ms:.1f}"


def machine() -> dict[str, object]:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version()}


def markdown(runs: list[Run], stages: dict[str, object]) -> str:
    """The tables as Markdown, for bench/README.md."""
    out = ["| hosts | case | monitor checks/s | CPU ms/check | urlwatch checks/s | "
           "CPU ms/check | rate ÷ urlwatch | CPU urlwatch ÷ monitor | rate ÷ bare |",
           "|---|---|---|---|---|---|---|---|---|"]
    by = medians(runs)
    for mode in ("many hosts", "one host"):
        bare = by.get(("bare", mode, "fetch+parse+hash"))
        for case, _, _ in CASES:
            m, u = by.get(("monitor", mode, case)), by.get(("urlwatch", mode, case))
            if bare is None or m is None or u is None:
                continue
            out.append(f"| {mode} | {case} | {_rate(m)} | {m.cpu_ms:.1f} | {_rate(u)} | "
                       f"{u.cpu_ms:.1f} | {m.rate / u.rate:.2f}× | {u.cpu_s / m.cpu_s:.2f}× | "
                       f"{m.rate / bare.rate:.0%} |")
        if bare is not None:
            out.append(f"| {mode} | bare limit | {_rate(bare)} | {bare.cpu_ms:.1f} | | | | | |")
    if stages:
        from bench.stages import STAGES
        out += ["", "| stage split (CPU ms/check) | " + " | ".join(STAGES) + " | total |",
                "|---" * (len(STAGES) + 2) + "|"]
        for case, data in stages.items():
            ms = data["ms_per_check"]  # type: ignore[index]
            out.append(f"| {case} | " + " | ".join(f"{ms[x]:.1f}" for x in STAGES)
                       + f" | {sum(ms.values()):.1f} |")
    return "\n".join(out)


def show(path: Path, as_markdown: bool = False) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    fields = {f for f in Run.__dataclass_fields__}
    runs = [Run(**{k: v for k, v in r.items() if k in fields}) for r in data["runs"]]
    if as_markdown:
        print(markdown(runs, data["stages"]))
        return
    title = (f"{data['pages']} pages, concurrency {data['concurrency']} ({data['hosts']} "
             f"hosts or one), {data['machine']['nproc']} cores, "
             f"{data.get('workers', 1)} monitor workers / bare processes, "
             f"median of {data.get('repeat', 1)}")
    Console().print(table(runs, data["stages"], title))
    if data["stages"]:
        Console().print(stage_table(data["stages"]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="100 pages: a smoke run")
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--hosts", type=int, default=50, help="loopback hosts of the spread case")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run every case N times; the tables show the medians")
    ap.add_argument("--workers", type=int, default=None,
                    help="monitor's check_workers and the bare limit's processes "
                    "(default: one per core, at most the concurrency)")
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--no-urlwatch", action="store_true")
    ap.add_argument("--no-stages", action="store_true")
    ap.add_argument("--cases", type=lambda v: v.split(","), default=None,
                    help="only the cases whose name contains one of these comma-separated "
                    "words, e.g. 'unchanged' (the first pass always runs)")
    ap.add_argument("--one-host", dest="modes", action="store_const", const=["one host"],
                    default=["many hosts", "one host"], help="only the one-host case")
    ap.add_argument("--many-hosts", dest="modes", action="store_const",
                    const=["many hosts"], help="only the many-hosts case")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--show", type=Path, metavar="JSON", help="print the tables of a saved run")
    ap.add_argument("--markdown", action="store_true", help="with --show: as Markdown")
    a = ap.parse_args(argv)
    if a.show:
        show(a.show, a.markdown)
        return
    pages = 100 if a.quick else a.pages
    c = a.concurrency
    workers = a.workers or max(1, min(os.cpu_count() or 1, c))
    console = Console()
    warm_up()
    site = Site(pages, a.hosts, a.port)
    runs: list[Run] = []
    stages: dict[str, object] = {}
    a.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = a.out / f"check-{stamp}.json"

    def save() -> None:  # after every tool's run: a long run interrupted keeps its part
        result = {"at": stamp, "pages": pages, "concurrency": c, "hosts": a.hosts,
                  "workers": workers, "repeat": a.repeat,
                  "machine": machine(),
                  "runs": [{**asdict(r), "rate": r.rate, "cpu_ms": r.cpu_ms} for r in runs],
                  "stages": stages}
        path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")

    try:
        for mode in [m for _ in range(a.repeat) for m in a.modes]:
            jobs = urls(pages, a.hosts, a.port, mode)
            runs.append(run_bare(jobs, mode, c, workers, site))
            runs += run_monitor(site, jobs, mode, c, workers, selected(a.cases))
            save()
            if not a.no_urlwatch:
                runs += run_urlwatch(site, jobs, mode, selected(a.cases))
                save()
        if not a.no_stages:
            stages = run_stages(site, urls(pages, a.hosts, a.port, "many hosts"), c)
            save()
    finally:
        site.close()
    title = (f"{pages} pages, concurrency {c} ({a.hosts} hosts or one), "
             f"{os.cpu_count()} cores, {workers} monitor workers / bare processes, "
             f"median of {a.repeat}")
    console.print(table(runs, stages, title))
    if stages:
        console.print(stage_table(stages))
    if any(r.others >= LOADED for r in medians(runs).values()):
        console.print(f"~: other processes used ≥ {LOADED} of a core during that run "
                      "(median of its repeats): its rate is theirs as much as the tool's; "
                      "compare CPU ms/check, or run again", markup=False)
    bad = [f"{r.tool} {r.mode} {r.case}: {r.detail}" for r in runs if not r.ok]
    for line in bad:
        console.print(f"(!) unexpected outcomes: {line}", markup=False)
    console.print(f"results: {path}", markup=False)


if __name__ == "__main__":
    main()
