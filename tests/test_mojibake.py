"""monitor.mojibake: double-encoded UTF-8 is repaired, correct Chinese is never touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.extract import extract
from monitor.fetch.encoding import decode_html
from monitor.mojibake import repair
from tests.pages import SEED_COUNT, seed_page

CN_GOV = Path(__file__).parent / "fixtures" / "corpus" / "cn-gov"


def double_encoded(text: str, codec: str) -> str:
    """What a server that read its UTF-8 as ``codec`` and wrote UTF-8 again serves
    (the five bytes Windows-1252 leaves undefined read as Latin-1, as such servers do)."""
    return "".join(_byte(b, codec) for b in text.encode("utf-8"))


def _byte(b: int, codec: str) -> str:
    try:
        return bytes([b]).decode(codec)
    except UnicodeDecodeError:
        return chr(b)


@pytest.mark.parametrize("name", sorted(p.name for p in CN_GOV.glob("*.html")))
def test_chinese_corpus_pages_are_never_altered(name: str) -> None:
    text, _ = decode_html((CN_GOV / name).read_bytes(), "text/html")
    assert repair(text) == (text, [])


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
@pytest.mark.parametrize("n", range(SEED_COUNT))
def test_seed_pages_are_never_altered(n: int, encoding: str) -> None:
    raw = seed_page(n, encoding=encoding, fullwidth=True)
    text = raw.decode("gb18030" if encoding == "gbk" else encoding)
    assert repair(text) == (text, [])


def test_chinese_text_with_latin_accents_and_symbols_is_not_altered() -> None:
    text = ("<p>“人工智能”——2020年《规划》（第二版），温度25℃，占比约5‰；"
            "Café、naïve、Ångström、©、®、½、±、×÷、€100。</p>")
    assert repair(text) == (text, [])


def test_correct_text_in_other_scripts_is_not_altered() -> None:
    from tests.test_encoding_served import SCRIPTS, stress_test

    for text in (*SCRIPTS, stress_test().decode("utf-8", errors="replace")):
        html = f"<pre>{text}</pre>"
        assert repair(html) == (html, [])


@pytest.mark.parametrize("codec", ["cp1252", "latin-1"])
def test_double_encoded_english_is_repaired(codec: str) -> None:
    good = "<p>Follow the direction of officials. (Español) — “roaming” costs €0 … kreyòl</p>"
    fixed, notes = repair(double_encoded(good, codec))
    assert fixed == good
    assert notes and "mojibake" in notes[0]


def test_double_encoded_chinese_is_repaired() -> None:
    good = "<title>关于人工智能的答复</title><p>感谢您对我省人工智能产业发展工作的关心和支持。</p>"
    broken = good.encode("utf-8").decode("latin-1")
    assert repair(broken)[0] == good


def test_extract_reads_a_double_encoded_page_as_the_page() -> None:
    page = seed_page(1).decode("utf-8")
    got, clean = extract(page.encode("utf-8").decode("latin-1")), extract(page)
    assert (got.title, got.text, got.metadata) == (clean.title, clean.text, clean.metadata)
    assert any("mojibake" in note for note in got.removed)
