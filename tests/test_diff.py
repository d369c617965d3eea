"""monitor.diff: character diffs of real page texts, time bounds, patches."""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from diff_match_patch import diff_match_patch

from monitor import diff as diffmod
from monitor.diff import (
    DELETE,
    EQUAL,
    INSERT,
    TextDiff,
    diff_texts,
    diff_texts_async,
)
from monitor.errors import StorageError
from monitor.patch import apply_patch, make_patch
from monitor.render import render_text

SEEDS = Path(__file__).parent / "fixtures" / "seeds"
NUMBER = re.compile(r"[0-9０-９]+(?:[.,．][0-9０-９]+)*[%％]?")  # as a reader sees one


def seed(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def edits(d: TextDiff) -> list[tuple[int, str]]:
    return [(op, t) for op, t in d.ops if op != EQUAL]


def rebuilds(d: TextDiff) -> bool:
    old = "".join(t for op, t in d.ops if op != INSERT)
    new = "".join(t for op, t in d.ops if op != DELETE)
    return old == d.old and new == d.new


def unrelated_pair(n: int = 30_000) -> tuple[str, str]:
    """Two texts of n characters with nothing in common but their subject."""
    a = seed("003")
    b = seed("001") + "\n" + seed("002") + "\n" + seed("000")
    return (a * (n // len(a) + 1))[:n], (b * (n // len(b) + 1))[:n]


def test_one_char_edit_in_a_500_char_paragraph_is_that_char() -> None:
    old = seed("000")
    para = paragraphs(old)[13]
    assert len(para) >= 500
    i = para.index("省工信厅出台")
    new = old.replace(para, para[:i] + "市" + para[i + 1:])
    d = diff_texts(old, new)
    assert d.exact
    assert edits(d) == [(DELETE, "省"), (INSERT, "市")]
    (changed,) = d.changed_paragraphs()
    assert (changed.kind, changed.old_no, changed.new_no) == ("modified", 14, 14)
    assert d.stats == {"added": 1, "removed": 1, "paragraphs": 1, "paragraphs_modified": 1,
                       "paragraphs_added": 0, "paragraphs_removed": 0}


def test_stats_count_characters_and_paragraphs_of_several_edits() -> None:
    old = seed("003")
    ps = paragraphs(old)
    sentence = "省财政每年安排专项资金支持人工智能产业发展。"
    new = old.replace(ps[32], ps[32] + sentence)  # paragraph 33: a sentence added
    new = new.replace(ps[38] + "\n", "")  # paragraph 39 removed
    new = new.replace("实施100个以上", "实施120个以上")  # paragraph 22: one digit
    d = diff_texts(old, new)
    assert d.stats == {"added": len(sentence) + 1, "removed": len(ps[38]) + 1,
                       "paragraphs": 3, "paragraphs_modified": 2, "paragraphs_added": 0,
                       "paragraphs_removed": 1}
    assert [(p.kind, p.number) for p in d.changed_paragraphs()] == [
        ("modified", 22), ("modified", 33), ("removed", 39)]


def test_text_appended_after_a_last_line_without_newline_is_new_paragraphs() -> None:
    old = seed("002")
    assert not old.endswith("\n")
    new = old + "\n答复单位：东莞市科学技术局\n答复内容：已列入2021年工作计划。"
    d = diff_texts(old, new)
    assert [(p.kind, p.new_no) for p in d.changed_paragraphs()] == [("added", 64),
                                                                    ("added", 65)]
    assert d.paragraphs[62].kind == "equal"  # "支持 0 反对 0" itself did not change


def test_a_rewritten_paragraph_is_one_modified_paragraph() -> None:
    old = seed("001")
    ps = paragraphs(old)
    new = old.replace(ps[2], "关于您提出的建议，经研究，现将有关情况说明如下：")
    d = diff_texts(old, new)
    assert [(p.kind, p.old_no, p.new_no) for p in d.changed_paragraphs()] == [
        ("modified", 3, 3)]


def test_blank_lines_are_not_paragraphs() -> None:
    old = seed("003")
    new = old.replace("一、总体要求\n", "一、总体要求\n\n\n")
    d = diff_texts(old, new)
    assert rebuilds(d)
    assert not d.changed and d.stats["paragraphs"] == 0


def test_unrelated_30k_texts_fall_back_to_paragraphs_within_the_bound() -> None:
    a, b = unrelated_pair()
    d = diff_texts(a, b, timeout=0.3)
    assert not d.exact  # the bound was hit: the fallback, not a diff that ran on
    assert rebuilds(d)
    # paragraph level: every changed paragraph is replaced whole, no character pieces
    assert d.changed_paragraphs()
    assert all(op != EQUAL for p in d.changed_paragraphs() for op, _ in p.ops)


def test_a_100k_text_with_one_edit_is_exact_and_fast() -> None:
    base = seed("003") + "\n" + seed("001") + "\n" + seed("002") + "\n" + seed("000")
    old = (base * 4)[:100_000]
    i = old.index("超过4亿元")
    new = old[:i] + "超过5亿元" + old[i + 5:]
    d = diff_texts(old, new, timeout=0.5)
    # exact: finished within its 0.5 s bound (past it, the result is the fallback's)
    assert d.exact and edits(d) == [(DELETE, "4"), (INSERT, "5")]


async def test_async_diff_keeps_the_event_loop_ticking() -> None:
    a, b = unrelated_pair()
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    d = await diff_texts_async(a, b, timeout=0.5)
    done.set()
    await tick
    # a diff run on the loop's own thread would let the ticker in once, after it; the
    # count (not the length of a gap, which a loaded machine stretches) is the proof
    assert len(gaps) > 10, f"the event loop ticked {len(gaps)} times during the diff"
    assert not d.exact and rebuilds(d)


async def test_async_diff_of_a_small_edit_is_the_exact_diff() -> None:
    old = seed("001")
    new = old.replace("超过4亿元", "超过5亿元")
    d = await diff_texts_async(old, new, timeout=2.0)
    assert d.exact and edits(d) == [(DELETE, "4"), (INSERT, "5")]
    assert d.ops == diff_texts(old, new).ops


async def test_first_async_diff_after_a_restart_is_exact() -> None:
    diffmod.shutdown_diff_workers()  # as after a daemon restart: no worker running
    old = seed("003")
    new = old.replace("实施100个以上", "实施120个以上")
    # starting a worker takes longer than this bound; it is not counted against it
    d = await diff_texts_async(old, new, timeout=0.1)
    assert d.exact and edits(d) == [(DELETE, "100"), (INSERT, "120")]


async def test_a_small_edit_is_diffed_without_starting_worker_processes() -> None:
    diffmod.shutdown_diff_workers()
    old = seed("003")
    new = old.replace("实施100个以上", "实施120个以上") + "\n补充说明：按计划推进。"
    d = await diff_texts_async(old, new, timeout=0.5)
    assert d.exact and rebuilds(d)
    assert diffmod._pool is None  # no process started (they cost 25-80 MB each)
    rewrite = await diff_texts_async(seed("001"), seed("002"), timeout=0.3)
    assert rebuilds(rewrite) and diffmod._pool is not None  # a rewrite goes to them


async def test_idle_diff_workers_stop_and_start_again_on_the_next_rewrite(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diffmod, "IDLE_EXIT", 0.3)
    monkeypatch.setattr(diffmod, "QUICK", 0)
    await diff_texts_async(seed("001"), seed("002"), timeout=0.3)
    pids = set(diffmod._workers()._processes)  # type: ignore[attr-defined]
    assert pids
    await asyncio.sleep(1.0)
    assert diffmod._pool is None
    for pid in pids:  # the processes are gone, not just forgotten
        for _ in range(100):
            if not _alive(pid):
                break
            await asyncio.sleep(0.1)
        assert not _alive(pid)
    d = await diff_texts_async(seed("001"), seed("001").replace("4亿元", "5亿元"), timeout=2)
    assert d.exact and diffmod._pool is not None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_async_diff_without_workers_still_answers_by_paragraph(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def submit(self, *args: object, **kw: object) -> None:
            raise BrokenProcessPool("worker died")

        def shutdown(self, *args: object, **kw: object) -> None:
            pass

    monkeypatch.setattr(diffmod, "_pool", Broken())
    monkeypatch.setattr(diffmod, "QUICK", 0)  # straight to the (broken) workers
    old = seed("001")
    new = old.replace("超过4亿元", "超过5亿元")
    d = await diff_texts_async(old, new, timeout=0.5)
    assert rebuilds(d)
    assert [(p.kind, p.number) for p in d.changed_paragraphs()] == [("modified", 5)]
    assert diffmod._pool is None  # the broken pool is dropped, the next call starts anew


# --- whole numbers -------------------------------------------------------------------------


def marked(old: str, new: str) -> str:
    """The one changed paragraph as ``render_text`` writes it."""
    d = diff_texts(old, new)
    assert d.exact and rebuilds(d)
    (line,) = [x for x in render_text(d, context=0).splitlines() if x.startswith("~ ")]
    return line.split(": ", 1)[1]


def test_a_changed_amount_in_a_real_reply_is_shown_whole() -> None:
    old = seed("002")  # a 9,000-character reply: compared line by line, then refined
    new = old.replace("预计总投资66.622 亿元", "预计总投资68.1 亿元", 1)
    d = diff_texts(old, new)
    assert d.exact and edits(d) == [(DELETE, "66.622"), (INSERT, "68.1")]
    assert "预计总投资[-66.622-]{+68.1+} 亿元,目前已完成投资27.79 亿元" in render_text(d)
    # The stats are the characters that differ (6[-6.622-]{+8.1+}), the numbers are shown whole
    assert (d.stats["added"], d.stats["removed"], d.stats["paragraphs"]) == (3, 5, 1)
    assert apply_patch(old, make_patch(old, new, d.ops)) == new


@pytest.mark.parametrize(("old", "new", "shown"), [
    ("预计总投资66.622亿元", "预计总投资68.1亿元", "预计总投资[-66.622-]{+68.1+}亿元"),
    ("网上认购套数： | 174", "网上认购套数： | 143", "网上认购套数： | [-174-]{+143+}"),
    ("于2021年6月23日印发", "于2021年6月25日印发", "于2021年6月[-23-]{+25+}日印发"),
    ("于2020年4月印发", "于2021年4月印发", "于[-2020-]{+2021+}年4月印发"),
    ("截止日期：2023/9/4", "截止日期：2023/9/5", "截止日期：2023/9/[-4-]{+5+}"),
    ("共１７４套", "共１４３套", "共[-１７４-]{+１４３+}套"),  # full-width digits
    ("总投资６６．６２２亿元", "总投资６８．１亿元", "总投资[-６６．６２２-]{+６８．１+}亿元"),
    ("同比增长12.5%，", "同比增长13%，", "同比增长[-12.5%-]{+13%+}，"),
    ("完成率99%", "完成率99.5%", "完成率[-99%-]{+99.5%+}"),
    ("合计1,234,567元", "合计1,235,567元", "合计[-1,234,567-]{+1,235,567+}元"),
    ("见第3条", "见第13条", "见第[-3-]{+13+}条"),  # a digit added in front
    ("共1745套", "共174套", "共[-1745-]{+174+}套"),  # a digit dropped at the end
    ("现房项目个数：35535", "现房项目个数：35543", "现房项目个数：[-35535-]{+35543+}"),
    # a number and a word changed in one paragraph: the word stays character-level
    ("截至2020年4月，共15个项目", "截至2020年5月，共15个在建项目",
     "截至2020年[-4-]{+5+}月，共15个{+在建+}项目"),
])
def test_a_changed_number_is_shown_whole_old_and_new(old: str, new: str, shown: str) -> None:
    assert marked(old, new) == shown


@pytest.mark.parametrize(("old", "new", "shown"), [
    ("关于头雁效应的通知", "关于引领效应的通知", "关于[-头雁-]{+引领+}效应的通知"),
    ("共174套", "共174户", "共174[-套-]{+户+}"),  # next to a number, not in it
    ("第0192号提案的答复", "第0192号建议的答复", "第0192号[-提案-]{+建议+}的答复"),
    ("湘工信函〔2021〕254号", "湘工信函[2021]254号", "湘工信函[-〔-]{+[+}2021[-〕-]{+]+}254号"),
    ("联系电话:0731-88888888", "联系电话：0731-88888888", "联系电话[-:-]{+：+}0731-88888888"),
])
def test_edits_that_are_not_in_a_number_stay_character_level(old: str, new: str,
                                                             shown: str) -> None:
    assert marked(old, new) == shown


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003"])
def test_no_edit_ever_cuts_a_number_of_a_seed(prefix: str) -> None:
    """Every digit of a seed turned into another one, one in three: no op boundary falls
    inside a number of either text, and the ops still rebuild both texts."""
    old = seed(prefix)
    digits = [i for i, ch in enumerate(old) if ch.isdigit()][::3]
    chars = list(old)
    for i in digits:
        chars[i] = str((int(chars[i]) + 3) % 10)
    new = "".join(chars)
    d = diff_texts(old, new, timeout=10)
    assert d.exact and rebuilds(d) and d.changed
    for text, side in ((old, INSERT), (new, DELETE)):
        cuts, at = set(), 0
        for op, piece in d.ops:
            if op != side:
                at += len(piece)
                cuts.add(at)
        for m in NUMBER.finditer(text):
            assert not any(m.start() < c < m.end() for c in cuts), m.group()
    assert apply_patch(old, make_patch(old, new, d.ops)) == new


# --- patches -------------------------------------------------------------------------------

TRICKY = [
    ("完成率100%\n第二段", "完成率99%\n第二段"),
    ("字面上的%E4%B8%AD不是中", "字面上的%E4%B8%AD是中"),
    ("%25 和 %%", "%25 和 %%%"),
    ("第一段\n第二段\n第三段", "第一段\n第三段\n新的第四段\n"),
    ("Windows\r\n行尾\r\n", "Windows\r\n行尾改了\r\n"),
    ("表情😀在这里", "表情😀🎉在这里"),
    ("分隔\x85符\u2028和\u2029", "分隔\x85符号\u2028和\u2029"),
    ("@@ -1,2 +1,2 @@\n+假的补丁行\n-还有这行", "@@ -1,3 +1,3 @@\n+假的补丁行\n 还有这行"),
    ("", "从无到有\n"),
    ("从有到无\n", ""),
]


@pytest.mark.parametrize(("old", "new"), TRICKY)
def test_patch_round_trips_tricky_texts(old: str, new: str) -> None:
    d = diff_texts(old, new)
    patch = make_patch(old, new, d.ops)
    assert apply_patch(old, patch) == new


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003"])
def test_patch_round_trips_seed_edits(prefix: str) -> None:
    old = seed(prefix)
    ps = paragraphs(old)
    new = old.replace(ps[5], ps[5] + "新增一句。").replace(ps[2] + "\n", "")
    new = new + "\n部门答复\n现答复如下：已办理。"
    d = diff_texts(old, new)
    patch = make_patch(old, new, d.ops)
    assert apply_patch(old, patch) == new


def test_patch_is_utf8_text_about_the_size_of_the_change() -> None:
    old = seed("003")
    added = paragraphs(seed("001"))[5]  # a 778-character paragraph
    new = old.replace("一、总体要求\n", "一、总体要求\n" + added + "\n")
    d = diff_texts(old, new)
    patch = make_patch(old, new, d.ops)
    assert added in patch  # readable in the database, not %E4%BA%BA...
    size = len(patch.encode("utf-8"))
    assert size < len((added + "\n").encode("utf-8")) + 200
    dmp = diff_match_patch()
    escaped = len(dmp.patch_toText(dmp.patch_make(old, d.ops)).encode("utf-8"))
    assert escaped > 2.5 * size


def test_patch_applied_to_another_text_is_refused() -> None:
    old = seed("001")
    new = old.replace("超过4亿元", "超过5亿元")
    patch = make_patch(old, new, diff_texts(old, new).ops)
    other = old.replace("近三年研发投入超过4亿元", "近两年研发投入约为3亿元")
    with pytest.raises(StorageError):
        apply_patch(other, patch)
    with pytest.raises(StorageError):
        apply_patch(old, "这不是补丁")


def test_make_patch_refuses_a_diff_of_other_texts() -> None:
    d = diff_texts("甲乙丙", "甲丁丙")
    with pytest.raises(ValueError, match="not a diff"):
        make_patch("甲乙丙", "甲戊丙", d.ops)


WORKER_PIDS = """
import asyncio

from monitor import diff


async def main() -> None:
    diff.QUICK = 0  # to the workers even though the thread could do it
    await diff.diff_texts_async("甲乙丙" * 50, "丁戊己" * 50, timeout=2.0)
    print(" ".join(str(pid) for pid in diff._workers()._processes), flush=True)
    await asyncio.sleep(120)


if __name__ == "__main__":
    asyncio.run(main())
"""


def test_diff_workers_exit_when_their_daemon_is_killed(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "daemon.py"
    script.write_text(WORKER_PIDS, encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, str(script)], cwd=root, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(root)}, text=True)
    try:
        pids = [int(p) for p in (proc.stdout.readline() if proc.stdout else "").split()]
        assert pids, "the daemon started no diff worker"
        proc.send_signal(signal.SIGKILL)  # no chance to stop its pool
        proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.1)
        assert not any(_alive(p) for p in pids), f"orphaned diff workers: {pids}"
    finally:
        proc.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ")[-1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False
