"""monitor.detect: change kinds of realistic edits of real pages."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from monitor.detect import detect_change, detect_change_async, snapshot
from monitor.patch import apply_patch
from monitor.types import ChangeDecision, ChangeKind, Snapshot

SEEDS = Path(__file__).parent / "fixtures" / "seeds"


def seed(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def page(text: str, title: str = "关于人工智能协同创新体系的建议", **meta: str) -> Snapshot:
    return snapshot(title, text, meta)


def detect(old: Snapshot, new: Snapshot, **kw: object) -> ChangeDecision:
    decision = detect_change(old, new, **kw)  # type: ignore[arg-type]
    assert decision is not None
    return decision


def proposal_without_reply() -> str:
    """002 as it was before any department answered: the proposal alone."""
    text = seed("002")
    return text[:text.index("部门答复")].rstrip()


# --- snapshots and "nothing changed" ---------------------------------------------------------


def test_snapshot_hash_is_sha256_of_canonical_json() -> None:
    a = snapshot("标题", "正文", {"发文日期": "2021-06-24", "索引号": "430S00"})
    b = snapshot("标题", "正文", {"索引号": "430S00", "发文日期": "2021-06-24"})
    assert a.content_hash == b.content_hash  # the order of metadata does not matter
    canonical = json.dumps({"metadata": {"发文日期": "2021-06-24", "索引号": "430S00"},
                            "text": "正文", "title": "标题"},
                           ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert a.content_hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert snapshot("标题", "正文。", {}).content_hash != snapshot("标题", "正文", {}).content_hash
    moved = snapshot("标题", "", {"正文": ""})
    assert moved.content_hash != snapshot("标题正文", "", {}).content_hash
    # of the canonical form (monitor.canon): a title is not a key–value pair, and a
    # pair's markup is not part of the version
    assert snapshot("标题", "索引号：430S00", {}).content_hash == \
        snapshot("标题", "索引号 | 430S00", {}).content_hash


def test_identical_snapshots_are_no_change() -> None:
    text = seed("000")
    assert detect_change(page(text), page(text)) is None
    bare = Snapshot("t", text, {})  # no hashes: compared field by field
    assert detect_change(bare, Snapshot("t", text, {})) is None


def test_blank_lines_alone_are_no_change() -> None:
    text = seed("003")
    blank_added = text.replace("一、总体要求\n", "一、总体要求\n\n")
    assert detect_change(page(text), page(blank_added)) is None


# --- changed -----------------------------------------------------------------------------------


def test_date_in_the_signature_changed() -> None:
    old = seed("002")
    new = old.replace("2020年8月27日", "2020年8月28日")
    d = detect(page(old), page(new))
    assert d.kind is ChangeKind.CHANGED and d.alert
    assert d.summary == "第60段修改"
    assert d.stats["added"] == 1 and d.stats["removed"] == 1 and d.stats["paragraphs"] == 1
    assert apply_patch(old, d.patch) == new


def test_sentence_added() -> None:
    old = seed("003")
    para = paragraphs(old)[20]
    sentence = "到2022年培育人工智能领域高新技术企业500家以上。"
    new = old.replace(para, para + sentence)
    d = detect(page(old), page(new))
    assert d.kind is ChangeKind.CHANGED
    assert d.summary == "第21段修改"
    assert (d.stats["added"], d.stats["removed"]) == (len(sentence), 0)
    assert apply_patch(old, d.patch) == new


def test_amount_changed() -> None:
    old = seed("001")
    new = old.replace("近三年研发投入超过4亿元", "近三年研发投入超过5亿元")
    d = detect(page(old), page(new))
    assert (d.kind, d.summary) == (ChangeKind.CHANGED, "第5段修改")
    assert (d.stats["added"], d.stats["removed"]) == (1, 1)
    assert "-4\n+5\n" in d.patch  # the patch names the digit, in plain UTF-8


def test_paragraph_removed() -> None:
    old = seed("003")
    gone = paragraphs(old)[38]
    new = old.replace(gone + "\n", "")
    d = detect(page(old), page(new))
    assert (d.kind, d.summary) == (ChangeKind.CHANGED, "第39段删除")
    assert d.stats["removed"] == len(gone) and d.stats["paragraphs_removed"] == 1
    assert apply_patch(old, d.patch) == new


def test_several_paragraphs_are_named_in_reading_order() -> None:
    old = seed("003")
    ps = paragraphs(old)
    new = old.replace("实施100个以上", "实施120个以上").replace(ps[38] + "\n", "")
    new = new.replace("一、总体要求\n", "一、总体要求\n新增的说明段落。\n")
    d = detect(page(old), page(new))
    assert d.summary == "第12段新增，第23段修改，第39段删除"
    assert d.details["paragraphs"] == [{"kind": "added", "old": None, "new": 12},
                                       {"kind": "modified", "old": 22, "new": 23},
                                       {"kind": "removed", "old": 39, "new": None}]


# --- replies ---------------------------------------------------------------------------------


def test_reply_section_published_on_a_proposal_without_reply() -> None:
    old, new = proposal_without_reply(), seed("002")
    d = detect(page(old), page(new))
    assert d.kind is ChangeKind.REPLY_ADDED and d.alert
    assert d.summary.startswith("新增答复「部门答复」；第14-63段新增")
    assert d.details["kinds"] == ["reply_added", "changed"]
    assert d.details["reply"] == {"paragraph": 14, "heading": "部门答复"}
    assert apply_patch(old, d.patch) == new


def test_a_new_reply_beside_earlier_ones() -> None:
    full = seed("002")
    old = full[:full.index("东科函〔2020〕79号")].rstrip()  # two co-handling opinions so far
    d = detect(page(old), page(full))
    assert d.kind is ChangeKind.REPLY_ADDED
    assert d.details["reply"] == {"paragraph": 40, "heading": "第20200255号代表建议答复的函"}


REPLY_SECTIONS = {
    "答复 heading": ["答复", "田君委员：您好！您提出的建议已收悉，我局高度重视。"],
    "办理结果 label": ["办理结果：已采纳。市科技局将人工智能协同创新体系纳入年度计划。"],
    "答复函 title": ["关于市政协十三届五次会议第20200255号提案的答复函",
                   "田君委员：您提出的建议收悉。"],
    "办理情况 heading": ["【办理情况】", "该提案已由市科技局办理完毕。"],
    "现答复如下 opening": ["田君委员：", "您提出的关于人工智能协同创新体系的建议收悉，现答复如下：",
                       "一、加快建设人工智能小镇。"],
    "opening and answer in one paragraph": [
        "田君委员：", "您提出的建议收悉，现答复如下：一、加快建设人工智能小镇。二、完善政策。"],
}


@pytest.mark.parametrize("section", REPLY_SECTIONS.values(), ids=REPLY_SECTIONS.keys())
def test_each_kind_of_reply_section(section: list[str]) -> None:
    old = proposal_without_reply()
    new = old + "\n" + "\n".join(section)
    d = detect(page(old), page(new))
    assert d.kind is ChangeKind.REPLY_ADDED, d.summary
    reply = d.details["reply"]
    assert isinstance(reply, dict) and reply["heading"] in section
    assert paragraphs(new)[reply["paragraph"] - 1] == reply["heading"]
    assert d.summary.startswith(f"新增答复「{reply['heading'][:39]}")


def test_reply_status_from_pending_to_done() -> None:
    text = proposal_without_reply()
    d = detect(page(text, 办理状态="办理中"), page(text, 办理状态="已办结"))
    assert d.kind is ChangeKind.REPLY_ADDED
    assert d.summary == "新增答复「办理状态：已办结」；办理状态：办理中 → 已办结"


@pytest.mark.parametrize("edit", [
    "signature date",
    "paragraph between heading and opening",
    "opening reworded",
    "answer requested in passing",
    "supplement added to a reply",
    "further point added to a reply",
])
def test_edits_that_are_not_a_new_reply(edit: str) -> None:
    text = seed("002")
    if edit == "signature date":
        new = text.replace("2020年8月27日", "2020年9月1日")
    elif edit == "paragraph between heading and opening":
        new = text.replace("田君代表:", "（此件公开发布）\n田君代表:")
    elif edit == "opening reworded":
        new = text.replace("意见,现答复如下", "意见,现将有关情况答复如下")
        text = proposal_without_reply() + "\n部门答复\n" + "\n".join(paragraphs(text)[37:])
        new = proposal_without_reply() + "\n部门答复\n" + "\n".join(paragraphs(new)[37:])
    elif edit == "supplement added to a reply":
        new = text + "\n另，现将补充情况答复如下：该项目已于近期完成竣工验收。"
    elif edit == "further point added to a reply":
        new = text + "\n此外，关于资金安排问题，现答复如下：已列入明年预算。"
    else:
        text = proposal_without_reply()
        new = text + "\n希望相关部门尽快研究答复。"
    d = detect(page(text), page(new))
    assert d.kind is ChangeKind.CHANGED, d.summary


def test_edit_of_a_reply_page_is_a_change_not_a_new_reply() -> None:
    old = seed("000")
    new = old.replace("20216月23", "20216月25")
    d = detect(page(old, "对省政协十二届四次会议第0192号提案的答复"),
               page(new, "对省政协十二届四次会议第0192号提案的答复"))
    assert (d.kind, d.summary) == (ChangeKind.CHANGED, "第19段修改")


# --- metadata and title ----------------------------------------------------------------------


def test_metadata_changed_names_the_field() -> None:
    text = seed("000")
    title = "对省政协十二届四次会议第0192号提案的答复"
    d = detect(page(text, title, 发文日期="2021-06-24", 索引号="430S00/2021-08026431"),
               page(text, title, 发文日期="2021-06-25", 索引号="430S00/2021-08026431"))
    assert d.kind is ChangeKind.METADATA_CHANGED
    assert d.summary == "发文日期：2021-06-24 → 2021-06-25"
    assert d.details["metadata"] == {"发文日期": ["2021-06-24", "2021-06-25"]}
    assert d.patch == "" and d.stats["added"] == d.stats["removed"] == 0


def test_metadata_field_appearing_says_it_was_absent() -> None:
    text = seed("000")
    d = detect(page(text), page(text, 文号="湘工信提案函〔2021〕254号"))
    assert d.summary == "文号：（无） → 湘工信提案函〔2021〕254号"
    assert d.details["metadata"] == {"文号": [None, "湘工信提案函〔2021〕254号"]}


def test_title_changed() -> None:
    text = seed("003")
    old_title = "省人民政府关于印发湖北省新一代人工智能发展总体规划(2020—2030年)的通知"
    new_title = old_title.replace("的通知", "的通知（修订）")
    d = detect(page(text, old_title), page(text, new_title))
    assert d.kind is ChangeKind.TITLE_CHANGED
    assert d.summary == f"标题：{old_title} → {new_title}"
    assert d.details["title"] == [old_title, new_title]


def test_the_most_important_kind_wins_and_the_others_are_named() -> None:
    old = seed("001")
    new = old.replace("超过4亿元", "超过5亿元")
    d = detect(page(old, "旧标题", 发文日期="2019-07-01"),
               page(new, "新标题", 发文日期="2019-07-02"))
    assert d.kind is ChangeKind.TITLE_CHANGED
    assert d.summary == "标题：旧标题 → 新标题；第5段修改；发文日期：2019-07-01 → 2019-07-02"
    assert d.details["kinds"] == ["title_changed", "changed", "metadata_changed"]
    reply = detect(page(proposal_without_reply(), 发文日期="2020-06-01"),
                   page(seed("002"), 发文日期="2020-08-27"))
    assert reply.details["kinds"] == ["reply_added", "changed", "metadata_changed"]


# --- flapping --------------------------------------------------------------------------------


def test_flapping_is_said_at_once_then_condensed() -> None:
    a = page(seed("001"))
    b = page(seed("001").replace("超过4亿元", "超过5亿元"))
    history = [a]  # versions in order; each check compares the last with the new one
    last_kind: str | None = None
    decisions = []
    for new in (b, a, b, a, b):
        old = history[-1]
        previous = [v.content_hash for v in reversed(history[:-1])]
        d = detect(old, new, previous_hashes=previous, last_change_kind=last_kind)
        decisions.append(d)
        history.append(new)
        last_kind = str(d.kind)
    # never silent: the later flips are alerts too, condensed (held and collapsed)
    assert [(d.kind, d.alert, d.details.get("condensed", False)) for d in decisions] == [
        (ChangeKind.CHANGED, True, False), (ChangeKind.FLAPPING, True, False),
        (ChangeKind.FLAPPING, True, True), (ChangeKind.FLAPPING, True, True),
        (ChangeKind.FLAPPING, True, True)]
    assert decisions[1].summary == "内容来回变化（回到上上个版本）：第5段修改"
    assert decisions[4].summary == "内容仍在来回变化，当前为此版本：第5段修改"
    assert apply_patch(b.text, decisions[1].patch) == a.text


def test_a_new_version_after_flapping_is_alerted_again() -> None:
    a, b = page(seed("001")), page(seed("001").replace("超过4亿元", "超过5亿元"))
    c = page(seed("001").replace("超过4亿元", "超过6亿元"))
    d = detect(a, c, previous_hashes=[b.content_hash], last_change_kind="flapping")
    assert d.kind is ChangeKind.CHANGED and d.alert


# --- async -----------------------------------------------------------------------------------


async def test_async_detection_decides_like_the_sync_one() -> None:
    old, new = page(proposal_without_reply()), page(seed("002"), 发文日期="2020-08-27")
    sync = detect_change(old, new)
    got = await detect_change_async(old, new, diff_timeout=2.0)
    assert got == sync and got is not None and got.kind is ChangeKind.REPLY_ADDED
    title_only = page(new.text, "新标题", 发文日期="2020-08-27")
    moved = await detect_change_async(new, title_only)
    assert moved is not None and moved.kind is ChangeKind.TITLE_CHANGED
    assert await detect_change_async(new, new) is None
