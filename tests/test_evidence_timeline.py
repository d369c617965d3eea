"""Complete timelines: a page that failed, went 404, came back, changed and moved shows
every one of those events with its time, each version its number and the last check
that confirmed it; a document taken off its listing shows when; ``monitor history``
and the web timeline show the same."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from click.testing import CliRunner
from sqlmodel import col, select

from monitor.types import Document, exact_time
from monitor.web.app import create_app
from storage import Store
from storage.archive import Archive
from storage.models import Check
from storage.records import CheckRecord
from storage.verify import canonical_time
from tests.pages import seed_page
from tests.sites import Response
from tests.test_archive_data import T0, Built, html_page, store_version
from tests.test_pipeline import NAME, PATH, Env, _baseline, html, make_env, noisy

__all__ = ["make_env"]  # the fixture, used by name


async def eventful_page(env: Env) -> tuple[int, int]:
    """A page that failed once, went 404 and came back, changed and moved: (第1版, 第2版)."""
    v1 = await _baseline(env)
    env.serve(html("busy", status=500))
    await env.check()  # a failure streak of one
    env.serve(html(noisy(0)))
    await env.check()  # back, unchanged: confirms 第1版
    env.serve(html("<h1>404 Not Found</h1>", status=404))
    for _ in range(3):
        await env.check()  # gone after two
    env.serve(html(noisy(0)))
    await env.check()  # restored
    env.serve(html(seed_page(0, edit=lambda ps: [*ps, "新增一段：本办法自公布之日起施行。"])))
    v2 = (await env.check()).version_id
    new_path = "/art/2021/6/24/art_5678_0192.html"
    env.serve(html(seed_page(0, edit=lambda ps: [*ps, "新增一段：本办法自公布之日起施行。"])),
              new_path)
    env.serve(Response(b"", status=301, headers={"Location": new_path}), PATH)
    await env.check()  # moved, same text
    return v1, v2


async def test_timeline_has_every_event_in_time_order(
        make_env: Callable[..., Env], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()
    v1, v2 = await eventful_page(env)
    page_id = env.page().page_id
    archive = Archive(env.store)
    events = archive.events(page_id)
    assert [e.kind for e in events] == ["failing", "recovered", "failing", "gone",
                                         "restored", "moved"]  # the return told once
    with env.store.session() as s:
        checks = list(s.exec(select(Check).where(Check.page_id == page_id)
                             .order_by(col(Check.id))))
    at = [c.started_at for c in checks]
    first_500, streak_404 = events[0], events[2]
    assert (first_500.at, first_500.until, first_500.failures) == (at[1], at[2], 1)
    assert (streak_404.at, streak_404.until, streak_404.failures) == (at[3], at[6], 3)
    assert first_500.summary == "网站返回错误状态（HTTP 500）"  # Chinese, detail after
    assert streak_404.summary == "页面已删除或不存在（HTTP 404）"
    assert events[4].failures == 3  # 页面已恢复 carries the streak it ended
    assert all(e.at is not None for e in events)
    gone, restored, moved = events[3:]
    # stamped as checks are, at the start of the check that wrote them (not its commit):
    # 页面已恢复 is the very moment the 404 streak ended, not a moment after it
    assert (gone.at, restored.at, moved.at) == (at[4], at[6], at[8])
    assert restored.at == streak_404.until
    timeline = archive.timeline(page_id)
    assert [(e.id, e.number) for e in timeline] == [(v1, 1), (v2, 2)]
    # 第1版: first seen at the baseline, last confirmed by the check just before 第2版
    assert at[0] <= timeline[0].fetched_at < at[1] and timeline[0].last_confirmed == at[6]
    assert timeline[1].last_confirmed == at[8]  # the move: same text, still confirmed

    from monitor.cli import cli

    monkeypatch.setenv("MONITOR_DATABASE_URL", env.store.url)
    out = CliRunner().invoke(cli, ["history", NAME, "--sources",
                                   str(tmp_path / "sources.toml")])
    assert out.exit_code == 0, out.output
    assert out.output.count("恢复访问: ") == 1  # the 404s' end is 页面已恢复, told once
    assert "the page is gone" not in out.output and "此前连续失败 3 次" in out.output
    for label in ("连续失败 1 次", "恢复访问", "连续失败 3 次", "页面已删除", "页面已恢复",
                  "页面已迁移", "第1版", "第2版", "首次收录"):
        assert label in out.output, (label, out.output)
    assert out.output.index("页面已删除") < out.output.index("页面已恢复") \
        < out.output.index("第2版") < out.output.index("页面已迁移")

    # the web timeline: newest first, the same events, each version by its number
    app = create_app(env.config, env.store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as client:
        page = (await client.get(f"/pages/{page_id}")).text
        api = (await client.get(f"/api/pages/{page_id}/timeline")).json()
        version = (await client.get(f"/versions/{v1}")).text
    order = [page.index(x) for x in ("页面已迁移", "第2版", "页面已恢复", "页面已删除",
                                     "第1版")]
    assert order == sorted(order), page
    assert "最后确认" in page and "连续失败</span>" in page and "1 次（至" in page
    assert [e["kind"] for e in api["events"]] == [e.kind for e in events]
    assert [v["number"] for v in api["versions"]] == [1, 2]
    assert api["versions"][0]["last_confirmed"] is not None
    sealed = env.store.version(v1)
    assert "第1版" in version and sealed.record_hash in version
    assert sealed.text_sha256 in version and "最后确认未变" in version


def test_a_document_taken_off_its_listing_says_when(store: Store) -> None:
    from monitor.config import SourceConfig

    listing = SourceConfig(name="col", url="http://127.0.0.1:9/list.html")
    store.sync_sources([listing])
    built = Built()
    store_version(store, listing, "栏目", "通知一", T0, built)
    doc = Document(url="http://127.0.0.1:9/a.html", title="关于印发办法的通知",
                   date="2026-05-01")
    for docs in ((doc,), ()):
        state = store.page_state(listing)
        store.commit_check(CheckRecord(
            page_id=state.page_id, expected_last_version_id=state.last.id if state.last
            else None, expected_revision=state.revision, started_at=T0 + timedelta(days=1),
            duration=0.1, outcome="unchanged", documents=docs))
    archive = Archive(store)
    [page] = [p for p in archive.pages("col") if p.kind == "document"]
    assert not page.listed
    [event] = archive.events(page.id)
    assert event.kind == "unlisted" and "关于印发办法的通知" in event.summary
    assert event.at is not None
    assert html_page  # (the shared page builder: the listing's body)


def _cli(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    from monitor.cli import cli

    monkeypatch.setenv("MONITOR_DATABASE_URL", env.store.url)
    out = CliRunner().invoke(cli, [*args, "--sources", str(tmp_path / "sources.toml")])
    assert out.exit_code == 0, out.output
    return out.output


async def test_history_json_carries_the_events_and_each_versions_times(
        make_env: Callable[..., Env], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()
    v1, v2 = await eventful_page(env)
    page_id = env.page().page_id
    archive = Archive(env.store)
    timeline, events = archive.timeline(page_id), archive.events(page_id)
    got = json.loads(_cli(env, tmp_path, monkeypatch, "history", NAME, "--json"))
    assert got["source"] == NAME and got["page"]["id"] == page_id
    versions = got["versions"]
    assert [(v["id"], v["number"]) for v in versions] == [(v1, 1), (v2, 2)]  # global ids stay
    for v, e in zip(versions, timeline, strict=True):
        assert v["first_seen"] == v["fetched_at"] == canonical_time(e.fetched_at)
        assert e.last_confirmed is not None
        assert v["last_confirmed"] == canonical_time(e.last_confirmed)
        assert v["content_hash"] == e.content_hash and v["source"] == NAME  # keys kept
    assert versions[0]["last_confirmed"] > versions[0]["first_seen"]  # confirmed since
    assert versions[1]["change_kind"] == "changed"
    assert [(x["kind"], x["at"]) for x in got["events"]] == [
        (e.kind, canonical_time(e.at)) for e in events]
    labels = [x["label"] for x in got["events"]]
    assert labels == ["连续失败", "恢复访问", "连续失败", "页面已删除", "页面已恢复",
                      "页面已迁移"]
    streak = got["events"][2]
    assert (streak["failures"], streak["until"]) == (3, canonical_time(events[2].until))


async def test_history_and_timeline_times_carry_seconds_and_the_zone(
        make_env: Callable[..., Env], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()
    await eventful_page(env)
    page_id = env.page().page_id
    first = Archive(env.store).timeline(page_id)[0]
    shanghai = first.fetched_at.astimezone(ZoneInfo("Asia/Shanghai"))
    exact = shanghai.strftime("%Y-%m-%d %H:%M:%S") + " +08:00"
    out = _cli(env, tmp_path, monkeypatch, "history", NAME)
    assert exact in out, out
    assert "times in Asia/Shanghai" in out  # the zone named once, in the title
    app = create_app(env.config, env.store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as client:
        page = (await client.get(f"/pages/{page_id}")).text
    assert exact in page
    assert f'datetime="{canonical_time(first.fetched_at)}"' in page  # machine-readable too


async def test_a_time_when_the_page_was_gone_is_never_shown_or_exported_as_live(
        make_env: Callable[..., Env], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``show --at`` a time inside the 404s says the page was gone then (and since when),
    ``--json`` too; the export's 第1版 is confirmed in two spans around the gone period,
    which the manifest line and the WARC metadata record both list; README's check
    still passes."""
    from warcio.archiveiterator import ArchiveIterator

    from monitor.cli import cli
    from tests.test_evidence_export import check, readme_script

    env = make_env()
    v1, v2 = await eventful_page(env)
    page_id = env.page().page_id
    with env.store.session() as s:
        at = [c.started_at for c in s.exec(select(Check).where(Check.page_id == page_id)
                                           .order_by(col(Check.id)))]
    monkeypatch.setenv("MONITOR_DATABASE_URL", env.store.url)
    sources = str(tmp_path / "sources.toml")
    runner = CliRunner()

    def show(when: datetime, *extra: str) -> str:
        out = runner.invoke(cli, ["show", NAME, "--at", when.isoformat(), "--sources",
                                  sources, *extra])
        assert out.exit_code == 0, out.output
        return out.output

    tz = env.config.settings.timezone
    inside = show(at[4])  # the check that recorded 页面已删除
    assert inside.startswith(f"注意：{exact_time(at[4], tz)} 时该页面已无法访问"), inside
    assert f"自 {exact_time(at[3], tz)} 起页面已删除或不存在（HTTP 404）" in inside
    assert f"{exact_time(at[6], tz)} 恢复" in inside and "第1版" in inside
    assert "注意" not in show(at[2]) and "注意" not in show(at[6])  # there then
    gone = json.loads(show(at[5], "--json"))["gone"]
    assert (gone["since"], gone["recorded"], gone["until"]) == (
        canonical_time(at[3]), canonical_time(at[4]), canonical_time(at[6]))
    assert json.loads(show(at[2], "--json"))["gone"] is None

    warc, manifest = tmp_path / "a.warc.gz", tmp_path / "a.manifest.jsonl"
    out = runner.invoke(cli, ["export", "--source", NAME, "--warc", str(warc), "--manifest",
                              str(manifest), "--sources", sources])
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in manifest.read_text(encoding="utf-8").splitlines()[:-1]]
    first = next(x for x in lines if x["version_id"] == v1)
    expected_gone = [{"since": canonical_time(at[3]), "recorded": canonical_time(at[4]),
                      "until": canonical_time(at[6]), "reason": "页面已删除或不存在（HTTP 404）"}]
    assert first["gone"] == expected_gone
    assert [(c["from"], c["to"]) for c in first["confirmed"]] == [
        (first["fetched_at"], canonical_time(at[2])), (canonical_time(at[6]),) * 2]
    for span in (c for x in lines for c in x["confirmed"]):  # no span covers the 404s
        assert span["to"] < canonical_time(at[3]) or span["from"] >= canonical_time(at[6])
    second = next(x for x in lines if x["version_id"] == v2)
    assert second["gone"] == [] and len(second["confirmed"]) == 1
    with warc.open("rb") as fh:
        metas = [json.loads(r.content_stream().read()) for r in ArchiveIterator(fh)
                 if r.rec_type == "metadata"]
    assert next(m for m in metas if m["version_id"] == v1)["gone"] == expected_gone
    ok = check(readme_script(tmp_path), manifest, warc)
    assert ok.returncode == 0 and ok.stdout.startswith("OK: 2 versions"), ok.stderr
    # the deletion erased from the manifest (its summary recomputed): the WARC still has it
    raw = manifest.read_text(encoding="utf-8").splitlines()
    body = "".join(json.dumps({**x, "gone": []}, ensure_ascii=False, sort_keys=True) + "\n"
                   for x in lines).encode()
    summary = json.loads(raw[-1])
    summary["manifest"]["lines_sha256"] = hashlib.sha256(body).hexdigest()
    (tmp_path / "erased.jsonl").write_bytes(body + json.dumps(summary).encode() + b"\n")
    bad = check(readme_script(tmp_path), tmp_path / "erased.jsonl", warc)
    assert bad.returncode == 1 and "confirmed or gone times differ" in bad.stderr, bad.stderr


async def test_show_of_a_page_gone_now_says_so(
        make_env: Callable[..., Env], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``show NAME`` (its latest version) while the page is gone: said before the text,
    with no end (至今未恢复); ``--json`` the same in ``gone``."""
    from monitor.cli import cli

    env = make_env()
    await _baseline(env)
    env.serve(html("<h1>404 Not Found</h1>", status=404))
    for _ in range(2):
        await env.check()  # gone after two
    monkeypatch.setenv("MONITOR_DATABASE_URL", env.store.url)
    sources = str(tmp_path / "sources.toml")
    out = CliRunner().invoke(cli, ["show", NAME, "--sources", sources])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("注意：现在该页面已无法访问（页面已删除）：自 ")
    assert "，至今未恢复。以下是它消失前的最后一版，现在网站上已看不到。" in out.output
    assert "当时" not in out.output and "at that time" not in out.output  # it is now
    data = json.loads(CliRunner().invoke(cli, ["show", NAME, "--json", "--sources",
                                                sources]).output)
    assert data["gone"]["until"] is None and data["gone"]["reason"].startswith("页面已删除")
