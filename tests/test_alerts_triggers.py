"""Per-watcher triggers (when_added, when_removed, when_matches, kinds): a real page on
loopback changes, ``Checker`` records every change, and only the watchers whose triggers
choose it are sent it, by email (aiosmtpd), generic webhook and DingTalk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.delivery import Deliverer
from alerts.triggers import ChangeText, wants
from monitor import zh
from monitor.config import Config, WatcherConfig, load_config
from monitor.errors import ConfigError
from monitor.fetch import Fetcher
from monitor.pipeline import Checker
from storage import Store
from storage.alerts_repo import AlertsRepo
from tests.conftest import write_sources
from tests.sites import Request, Response, Site
from tests.test_alerts_support import SmtpServer

HEAD = "湖南省工业和信息化厅\n关于省政协十二届四次会议第0192号提案的办理情况"
BODY = "一、加快推进产业集群建设，今年安排专项资金3000万元。\n办理状态：未办结"
AMOUNT = BODY.replace("3000", "5000")
REPLY = AMOUNT + ("\n答复：\n经研究，现答复如下：我厅已将园区数字化改造纳入明年计划。"
                  "\n办理状态：已办结")

WATCHERS = """
[[watchers]]
name = "everything"
email = "all@example.cn"
sources = ["hn-0192"]

[[watchers]]
name = "replies"
email = "replies@example.cn"
sources = ["hn-0192"]
when_added = ["答复", "回复"]

[[watchers]]
name = "money"
webhook_env = "MONEY_HOOK"
sources = ["hn-0192"]
when_matches = '专项资金\\d+万元'

[[watchers]]
name = "done"
webhook_env = "DONE_ROBOT"
webhook_format = "dingtalk"
sources = ["hn-0192"]
when_added = ["已办结"]
kinds = ["reply_added", "changed"]
"""


def page(text: str) -> str:
    paras = "".join(f"<p>{line}</p>" for line in f"{HEAD}\n{text}".splitlines())
    return (f"<html><head><title>第0192号提案办理情况</title></head><body><div>{paras}"
            "</div></body></html>")


class Hooks:
    """Every POST to the webhook and to the robot, by path."""

    def __init__(self, site: Site) -> None:
        self.got: dict[str, list[dict[str, object]]] = {"/money": [], "/robot": []}
        self.money = site.route("/money", self.answer)
        self.robot = site.route("/robot", self.answer) + "?access_token=tok"

    def answer(self, req: Request) -> Response:
        self.got[req.path.split("?")[0]].append(json.loads(req.body))
        return Response('{"errcode": 0, "errmsg": "ok"}',
                        headers={"Content-Type": "application/json"})


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def config_for(tmp_path: Path, site: Site, smtp: SmtpServer, watchers: str) -> Config:
    body = (f'[[sources]]\nname = "hn-0192"\nurl = "{site.url("/0192.html")}"\n'
            + watchers)
    path = write_sources(tmp_path / "sources.toml", body,
                         settings=f'smtp_url = "{smtp.url}"\n')
    return load_config(path, env={})


async def check_and_deliver(config: Config, store: Store, site: Site, text: str,
                            env: dict[str, str]) -> str:
    site.route("/0192.html", page(text))
    async with Fetcher(config.settings) as fetcher:
        await Checker(config, store, fetcher).check(config.source("hn-0192"))
    return (await Deliverer(config, store, env=env).deliver_due()).describe()


async def test_each_watcher_is_sent_only_what_its_triggers_choose(
        store: Store, site: Site, smtp: SmtpServer, tmp_path: Path) -> None:
    hooks = Hooks(site)
    env = {"MONEY_HOOK": hooks.money, "DONE_ROBOT": hooks.robot}
    config = config_for(tmp_path, site, smtp, WATCHERS)
    await check_and_deliver(config, store, site, BODY, env)  # the baseline: no alert
    # 3000万元 → 5000万元: for everyone, and for the regex on amounts
    assert await check_and_deliver(config, store, site, AMOUNT, env) == (
        "2 sent, 0 retrying, 0 dead")
    assert [m["To"] for m in smtp.sink.parsed()] == ["all@example.cn"]
    [money] = hooks.got["/money"]
    assert money["data"]["kind"] == "changed"  # type: ignore[index]
    assert "[-3000-]{+5000+}" in money["data"]["diff"]  # type: ignore[index]
    assert hooks.got["/robot"] == []
    # a reply, and 未办结 → 已办结: for the reply and 已办结 watchers, not the amounts'
    assert await check_and_deliver(config, store, site, REPLY, env) == (
        "3 sent, 0 retrying, 0 dead")
    assert sorted(m["To"] for m in smtp.sink.parsed()) == [
        "all@example.cn", "all@example.cn", "replies@example.cn"]
    assert len(hooks.got["/money"]) == 1
    [robot] = hooks.got["/robot"]
    assert "新增答复" in robot["markdown"]["text"]  # type: ignore[index]
    # every change is recorded (and shown), whoever was told
    assert [v.change_kind for v in store.history("hn-0192")][-2:] == ["changed",
                                                                       "reply_added"]
    told = sorted((r.watcher, r.change_id) for r in AlertsRepo(store).list())
    assert [name for name, _ in told] == ["done", "everything", "everything", "money",
                                          "replies"]


async def test_a_removed_word_reaches_when_removed_watchers(
        store: Store, site: Site, smtp: SmtpServer, tmp_path: Path) -> None:
    watchers = """
[[watchers]]
name = "withdrawn"
email = "w@example.cn"
sources = ["hn-0192"]
when_removed = ["园区数字化改造"]
"""
    config = config_for(tmp_path, site, smtp, watchers)
    assert await check_and_deliver(config, store, site, REPLY, {}) == (
        "0 sent, 0 retrying, 0 dead")
    assert await check_and_deliver(config, store, site, REPLY + "\n联系人：张三", {}) == (
        "0 sent, 0 retrying, 0 dead")  # something added: not for this watcher
    gone = REPLY.replace("我厅已将园区数字化改造纳入明年计划。", "相关工作正在研究中。")
    assert await check_and_deliver(config, store, site, gone, {}) == (
        "1 sent, 0 retrying, 0 dead")
    [mail] = smtp.sink.parsed()
    assert mail["To"] == "w@example.cn"


def w(**kw: object) -> WatcherConfig:
    return WatcherConfig(name="w", email="w@example.cn", sources=("*",), **kw)  # type: ignore[arg-type]


def text(kind: str, before: str, after: str, *more: str) -> ChangeText:
    return ChangeText(frozenset({kind, *more}), before, after)


@pytest.mark.parametrize(("watcher", "change", "sent"), [
    # a word is added when the page says it more often than before
    (w(when_added=("已办结",)), text("changed", "状态：未办结", "状态：已办结"), True),
    (w(when_added=("办结",)), text("changed", "状态：未办结", "状态：已办结"), False),
    (w(when_removed=("未办结",)), text("changed", "状态：未办结", "状态：已办结"), True),
    # a list holds when one item does
    (w(when_added=("答复", "回复")), text("changed", "a", "a 回复"), True),
    # several keys: all must hold
    (w(when_added=("答复",), kinds=("gone",)), text("changed", "a", "a 答复"), False),
    (w(when_added=("答复",), kinds=("reply_added",)),
     text("reply_added", "a", "a 答复", "changed"), True),
    # kinds: the change's kind or one of the others it has
    (w(kinds=("attachment_added",)), text("reply_added", "", "", "attachment_added"), True),
    # a regex: what it finds differs
    (w(when_matches=r"\d+万元"), text("changed", "3000万元", "5000万元"), True),
    (w(when_matches=r"\d+万元"), text("changed", "3000万元 甲", "3000万元 乙"), False),
    # a gone page has no words: only kinds choose it
    (w(when_added=("答复",)), ChangeText(frozenset({"gone"})), False),
    (w(kinds=("gone",)), ChangeText(frozenset({"gone"})), True),
    (w(), ChangeText(frozenset({"gone"})), True),
])
def test_trigger_semantics(watcher: WatcherConfig, change: ChangeText, sent: bool) -> None:
    assert wants(watcher, change) is sent


@pytest.mark.parametrize(("line", "key", "says"), [
    ('kinds = ["reply_add"]', "kinds", "未知的变化类型 'reply_add'，是否想写 'reply_added'"),
    ("when_matches = '专项资金(\\d+'", "when_matches", "不是有效的正则表达式"),
    ("when_added = []", "when_added", "应为非空字符串的列表"),
    ('when_removed = [""]', "when_removed", "应为非空字符串的列表"),
])
def test_a_bad_trigger_is_refused_naming_the_watcher_and_key(
        tmp_path: Path, line: str, key: str, says: str) -> None:
    body = ('[[sources]]\nname = "a"\nurl = "http://example.gov.cn/a.html"\n'
            f'[[watchers]]\nname = "analyst"\nemail = "a@example.cn"\nsources = ["a"]\n{line}\n')
    path = write_sources(tmp_path / "sources.toml", body)
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert (err.value.watcher, err.value.key) == ("analyst", key)
    assert says in str(err.value)
    # as the admin's alert says it (a daemon refusing an edit)
    told = zh.config_problem(str(err.value), file="sources.toml", watcher="analyst", key=key)
    assert "接收人 analyst" in told and says.split()[0][:5] in told, told


def test_the_readme_examples_load(tmp_path: Path) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Alert channels and triggers", 1)[1].split("**Listing", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```toml\n")[1:]]
    assert len(blocks) == 2
    body = '[[sources]]\nname = "hn-0192"\nurl = "http://example.gov.cn/a.html"\n'
    body += 'tags = ["hunan"]\n' + "".join(blocks)
    config = load_config(write_sources(tmp_path / "sources.toml", body), env={})
    by_name = {w.name: w for w in config.watchers}
    assert by_name["phone"].apprise_env == "TELEGRAM_URL"
    assert by_name["replies"].when_added == ("答复", "回复", "办理结果")
    assert wants(by_name["money"], text("changed", "3000万元", "3000.5万元"))
    assert wants(by_name["closed"], text("changed", "状态：未办结", "状态：已办结"))
    assert not wants(by_name["closed"], text("metadata_changed", "", "已办结"))  # kind
    assert not wants(by_name["closed"], text("changed", "已办结", "已办结 答复"))


async def test_new_documents_of_a_listing_are_chosen_by_their_words(
        store: Store, site: Site, tmp_path: Path) -> None:
    from monitor.cli.check import run_checks
    from tests.test_listing_sources import NAME, Column

    column = Column(site, 3)
    column.serve_replies()
    path = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        [sources.follow]
        content = "div.article"

        [[watchers]]
        name = "replies"
        email = "replies@example.org"
        sources = ["{NAME}"]
        kinds = ["document_added"]
        when_added = ["现答复如下"]

        [[watchers]]
        name = "one"
        email = "one@example.org"
        sources = ["{NAME}"]
        when_added = ["第0104号"]
        """)
    config = load_config(path, env={})
    store.sync_sources(config.sources)
    source = config.source(NAME)
    await run_checks(config, store, [source], progress=False)  # the baseline
    for _ in range(2):  # replies 103 and 104 are published, one pass each
        column.publish()
        await run_checks(config, store, [source], progress=False)
    told = sorted(r.watcher for r in AlertsRepo(store).list())
    assert told == ["one", "replies", "replies"]


def test_long_pages_count_the_same_as_short_ones() -> None:
    """Only what changed (and a margin) is searched: far words on both sides still
    count as they do on the whole page, and an edit at each end is seen."""
    from alerts.triggers import change_text
    from monitor.types import ChangeDecision, ChangeKind, Snapshot

    far = "答复。" + "甲" * 5000 + "乙" * 5000 + "已办结。"
    cases = [("甲乙", "甲答复乙"), ("答复。甲", "甲"), ("乙已办结", "乙办结")]
    for old, new in cases:
        before, after = Snapshot("t", far), Snapshot("t", far.replace(old, new, 1))
        words = change_text(ChangeDecision(ChangeKind.CHANGED, ""), before, after)
        assert len(words.after) < 2000  # only the changed part, with its margin
        for watcher in (w(when_added=("答复",)), w(when_removed=("答复",)),
                        w(when_removed=("已办结",)), w(when_matches="答复|办结")):
            whole = ChangeText(words.kinds, "t\n" + before.text, "t\n" + after.text)
            assert wants(watcher, words) is wants(watcher, whole), (old, watcher)
