"""Pages in scripts other than Chinese, served by a real local server, through the fetcher,
extraction and ``monitor sources test``: a declared charset that decodes the page is kept,
and correct text is never "repaired"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.extract import extract
from monitor.fetch import Fetcher
from monitor.fetch.encoding import decode_html
from tests.conftest import write_sources
from tests.sites import Response, Site
from tests.test_cli_spine import run
from tests.test_fetch import make_settings

GREEK = "κόσμε"
SCRIPTS = [
    "Greek: Κάθε άνθρωπος γεννιέται ελεύθερος και ίσος στην αξιοπρέπεια.",
    "Ukrainian: Всі люди народжуються вільними і рівними у своїй гідності.",
    "Russian: Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Georgian: ყველა ადამიანი იბადება თავისუფალი და თანასწორი.",
    "Amharic: ሰላም ለዓለም · Runes: ᚠᛇᚻ᛫ᛒᛦᚦ᛫ᚠᚱᚩᚠᚢᚱ · Braille: ⠊⠀⠉⠁⠝⠀⠑⠁⠞",
    "Vietnamese: Tiếng Việt có dấu, Hà Nội, Thành phố Hồ Chí Minh.",
    "Latin-1: Iñtërnâtiônàlizætiøn, À côté du café, Ça va? ¡¢£¤¥¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾¿",
    "Maths: ∮ E⋅da = Q, n → ∞, ∑ f(i) = ∏ g(i), ∀x∈ℝ: ⌈x⌉ = −⌊−x⌋",
]


def stress_test() -> bytes:
    """The shape of Markus Kuhn's UTF-8 decoder stress test: correct text in several
    scripts, boundary characters, then the deliberately malformed sequences (lone
    continuation bytes, lonely start bytes, overlong forms, surrogates) it is made of."""
    head = "UTF-8 decoder capability and stress test\n\n"
    head += f"1  Some correct UTF-8 text                                  |{GREEK}|\n"
    head += "2.1  First possible sequence:  |\u0080|  |\u0800|  |\U00010000|\n"
    head += "2.2  Last possible sequence:   |\u007f|  |\u07ff|  |\uffff|\n"
    body = head.encode()
    body += b"3.1  Unexpected continuation bytes\n"
    body += b"".join(b'  "' + bytes([i]) + b'"\n' for i in range(0x80, 0xC0))
    body += b"3.2  Lonely start characters\n  " + b" ".join(
        bytes([i]) for i in range(0xC0, 0xFE)) + b"\n"
    body += b'4.1  Overlong ASCII:  "\xc0\xaf"  "\xe0\x80\xaf"  "\xf0\x80\x80\xaf"\n'
    body += b'5.1  Single surrogates:  "\xed\xa0\x80"  "\xed\xad\xbf"  "\xed\xbf\xbf"\n'
    body += b"THE END\n"
    return body


def page(text: str) -> bytes:
    return f"<html><head><title>{GREEK}</title></head><body><pre>{text}</pre></body></html>" \
        .encode()


@pytest.mark.parametrize("kind", ["stress", "scripts"])
async def test_a_declared_utf8_page_in_other_scripts_stays_utf8_through_fetch_and_extract(
        site: Site, kind: str) -> None:
    body = stress_test() if kind == "stress" else "\n".join(SCRIPTS).encode()
    url = site.route("/utf8.txt", Response(
        body, headers={"Content-Type": "text/plain; charset=utf-8"}))
    async with Fetcher(make_settings()) as fetcher:
        result = await fetcher.fetch(url)
    assert result.charset == "utf-8" and result.body == body
    assert result.text == body.decode("utf-8", errors="replace")
    text = extract(result.text).text
    assert f"|{GREEK}|" in text if kind == "stress" else text == " ".join(SCRIPTS)


@pytest.mark.parametrize("where", ["meta", "bom"])
async def test_a_declaration_in_the_page_is_kept_as_well(site: Site, where: str) -> None:
    text = "\n".join(SCRIPTS)
    body = page(text)
    if where == "meta":
        body = body.replace(b"<head>", b'<head><meta charset="utf-8">')
    else:
        body = b"\xef\xbb\xbf" + body
    url = site.route("/p.html", Response(body, headers={"Content-Type": "text/html"}))
    async with Fetcher(make_settings()) as fetcher:
        result = await fetcher.fetch(url)
    assert result.charset == "utf-8"
    got = extract(result.text)
    assert got.title == GREEK and got.text.split("\n") == SCRIPTS
    assert not any("mojibake" in note for note in got.removed)  # nothing "repaired"


def test_sources_test_shows_the_stress_test_as_served(site: Site, tmp_path: Path) -> None:
    url = site.route("/stress.html", Response(
        page(stress_test().decode("utf-8", errors="replace")).replace(
            "\ufffd".encode(), b"\xc0"),  # the invalid bytes as served
        headers={"Content-Type": "text/html; charset=utf-8"}))
    sources = write_sources(tmp_path / "sources.toml", "")
    result = run("sources", "test", url, "--json", "--sources", str(sources))
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert (got["charset"], got["title"]) == ("utf-8", GREEK)
    assert f"|{GREEK}|" in got["text"] and "|\u0800|" in got["text"]
    assert not any("mojibake" in note for note in got["removed"])


def test_a_wrong_single_byte_guess_never_beats_a_declaration() -> None:
    body = stress_test()
    text, charset = decode_html(body, "text/plain; charset=utf-8")
    assert charset == "utf-8" and f"|{GREEK}|" in text
    # A GBK page behind a server's default ISO-8859-1 header, declaring gb2312 itself:
    # windows-1252 decodes it "cleanly" into mojibake; the page's own declaration wins.
    gbk = '<meta charset="gb2312"><p>关于进一步加强政务公开工作的通知</p>'.encode("gbk")
    assert gbk.decode("cp1252")
    text, charset = decode_html(gbk, "text/html; charset=ISO-8859-1")
    assert charset == "gb18030" and "政务公开" in text
