"""Real before/after captures through decode → challenge → extract → detect → render.

Pairs of tests/fixtures/corpus (provenance in its SOURCES.md): the Beijing housing
statistics page (noise only; a real data change; a broken render), the energy.gov home
page whose news listing gained and lost articles, and the FEMA Hurricane Maria page whose
later capture is double-encoded UTF-8.
"""

from __future__ import annotations

import re
from pathlib import Path

from monitor.challenge import detect_challenge
from monitor.detect import detect_change, snapshot
from monitor.diff import TextDiff, diff_texts
from monitor.extract import extract
from monitor.fetch.encoding import decode_html
from monitor.render import render_html, render_side_by_side_html, render_terminal, render_text
from monitor.types import ChangeDecision, ChangeKind, Extracted

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
HTML = "text/html"
TIMEOUT = 10.0  # seconds a diff may take: a loaded test machine must not coarsen it


def decoded(name: str) -> str:
    return decode_html((CORPUS / name).read_bytes(), HTML)[0]


def bjjs(day: str) -> str:
    return decoded(f"cn-gov/bjjs-zjw-beijing__fwjy-stats__{day}.html")


def check(old_html: str, new_html: str) -> tuple[Extracted, Extracted, ChangeDecision | None]:
    for html in (old_html, new_html):
        assert detect_challenge(html, status=200, headers={"content-type": HTML}) is None
    old, new = extract(old_html), extract(new_html)
    decision = detect_change(snapshot(old.title, old.text, old.metadata),
                             snapshot(new.title, new.text, new.metadata), diff_timeout=TIMEOUT)
    assert decision is None or decision.details["exact"]
    return old, new, decision


def changed(diff: TextDiff, kind: str) -> list[str]:
    return [p.new_text if kind == "added" else p.old_text
            for p in diff.changed_paragraphs() if p.kind == kind]


# --- Beijing housing statistics ----------------------------------------------------------


def test_bjjs_noise_only_pair_is_no_change() -> None:
    before, after = bjjs("20190104"), bjjs("20190105")
    assert before != after
    _, _, decision = check(before, after)
    assert decision is None


def test_bjjs_data_change_shows_each_changed_number_whole() -> None:
    before, after = bjjs("20230905"), bjjs("20230906")
    old, new, decision = check(before, after)
    assert decision is not None and decision.kind is ChangeKind.CHANGED
    stats = decision.stats
    assert stats["paragraphs"] == stats["paragraphs_modified"] == 60  # the 60 changed cells
    # The stats count the characters that differ, not the digits shown again.
    assert (stats["added"], stats["removed"]) == (250, 249)
    assert stats["added"] + stats["removed"] < 0.01 * len(after)
    diff = diff_texts(old.text, new.text, timeout=TIMEOUT)
    lines = {line.split(": ", 1)[-1] for line in render_text(diff, context=0).splitlines()}
    # 174 → 143, not 1[-7-]4{+3+}; 11429737.63 → 11557123.22, not 11[-429737.63-]{+…+}00
    assert {"网上认购套数： | [-174-]{+143+}",
            "可售房屋面积(M2)： | [-11429737.6300-]{+11557123.2200+}",
            "现房项目个数： | [-35535-]{+35543+}",  # was 355{+4+}3[-5-]
            "截止日期：2023/9/[-4-]{+5+}"} <= lines  # a date: only its changed part
    html = render_html(diff)
    assert re.search(r"可售房屋套数： \| <del [^>]*>170474</del><ins [^>]*>171225</ins>", html)
    # Every marked piece, in every rendering, is a whole cell value or a whole date part.
    cells = {p.old_text.rsplit(" | ", 1)[-1] for p in diff.changed_paragraphs()} | \
            {p.new_text.rsplit(" | ", 1)[-1] for p in diff.changed_paragraphs()}
    for rendering in (html, render_side_by_side_html(diff)):
        marked = re.findall(r"<(?:ins|del) [^>]*>(.*?)</(?:ins|del)>", rendering)
        assert len(marked) == 120 and all(m in cells or m in "45" for m in marked)
    terminal = render_terminal(diff)
    coloured = [terminal.plain[s.start:s.end] for s in terminal.spans
                if s.style in ("bold red strike", "bold green")]
    assert coloured[:2] == ["170474", "171225"] and len(coloured) == 120


def test_bjjs_broken_render_is_not_a_page() -> None:
    reason = detect_challenge(bjjs("20200326"), status=200, headers={"content-type": HTML})
    assert reason is not None and "unrendered template" in reason
    # The next day's capture has the new template but is no better: placeholders in its
    # nav and breadcrumb, and no statistics table at all.
    after = bjjs("20200327")
    assert "可售" not in after and "签约" not in after
    reason = detect_challenge(after, status=200, headers={"content-type": HTML})
    assert reason is not None and "unrendered template" in reason


# --- energy.gov: a listing that gains and loses articles ---------------------------------

ENERGY = "peers/wmd__energy-gov-home__{}.html"
NEW_ARTICLES = [
    "Secretary Perry Announces Conditional Commitment to Support Continued Construction of "
    "Vogtle Advanced Nuclear Energy Project | September 29, 2017",
    "Secretary Perry Urges FERC to Take Swift Action to Address Threats to Grid Resiliency"
    " | September 29, 2017",
]
OLD_ARTICLES = [
    "Energy Department Invests Up to $50 Million to Improve the Resilience and Security of "
    "the Nation’s Critical Energy Infrastructure | September 12, 2017",
    "U.S. Department of Energy Proposes Expedited Approval for Small-Scale Natural Gas "
    "Exports | September 1, 2017",
]


def test_energy_gov_listing_change_names_the_added_and_removed_articles() -> None:
    old, new, decision = check(decoded(ENERGY.format("before__9d4de183")),
                               decoded(ENERGY.format("after__775a8b04")))
    assert decision is not None and decision.kind is ChangeKind.CHANGED
    assert len(old.text.split("\n")) == len(new.text.split("\n")) == 10
    diff = diff_texts(old.text, new.text, timeout=TIMEOUT)
    assert changed(diff, "added") == NEW_ARTICLES
    assert changed(diff, "removed") == OLD_ARTICLES
    assert changed(diff, "modified") == []
    assert "form_build_id" not in new.text and "Energy.gov" not in new.text


# --- FEMA: the later capture is double-encoded UTF-8 -------------------------------------

FEMA_BEFORE = "peers/wmd__fema-hurricane-maria__before__f2d5d701.html"
FEMA_AFTER = "peers/wmd__fema-hurricane-maria__after__fc74d750__mojibake.html"


def test_fema_mojibake_capture_gives_only_the_real_changes() -> None:
    raw_after = decoded(FEMA_AFTER)
    assert "EspaÃ±ol" in raw_after  # the capture really is double-encoded
    old, new, decision = check(decoded(FEMA_BEFORE), raw_after)
    assert "Español" in new.text and "Ã" not in new.text and "Â" not in new.text
    assert "“roaming”" in new.text
    assert any("mojibake" in note for note in new.removed)
    assert decision is not None and decision.kind is ChangeKind.CHANGED
    # Without the repair: 63 paragraphs.  The real update (Oct 3 → Oct 5 figures,
    # new tweets and photo captions) is a third of that.
    assert decision.stats["paragraphs"] <= 25
    diff = diff_texts(old.text, new.text, timeout=TIMEOUT)
    first = diff.changed_paragraphs()[0]
    assert first.old_text == "All figures as of October 3, 2017, 10 am EDT"
    assert first.new_text == "All figures as of October 5, 2017, 10 am EDT"
    unchanged = [p.old_text for p in diff.paragraphs if p.kind == "equal"]
    assert "Follow the direction of state, local, and tribal officials. (Español)" in unchanged
