"""Charset decisions on the kind of pages Chinese government sites really serve."""

from __future__ import annotations

import codecs

import pytest

from monitor.errors import DecodeError
from monitor.fetch.encoding import canonical_charset, decode_html

# 喆 and 镕 are in GBK but not in GB2312: a strict gb2312 decoder fails on them.
NAMES = "国务院总理朱镕基、李克强，副部长张喆出席会议。"
ARTICLE = (
    "关于进一步加强政务公开工作的通知。各省、自治区、直辖市人民政府，国务院各部委、各直属机构："
    "为深入贯彻落实党中央、国务院关于全面推进政务公开的决策部署，现就有关事项通知如下。"
) * 4


def page(body: str, *, meta: str = "", charset: str = "gb18030") -> bytes:
    head = f"<html><head>{meta}<title>通知</title></head>"
    return f"{head}<body><p>{body}</p></body></html>".encode(charset)


def test_gbk_page_labelled_gb2312_keeps_gbk_only_characters() -> None:
    body = page(NAMES, meta='<meta charset="gb2312">')
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb2312")  # what a literal reading of the label would do
    text, charset = decode_html(body, "text/html")
    assert "朱镕基" in text and "张喆" in text
    assert charset == "gb18030"


def test_meta_http_equiv_form_is_read() -> None:
    meta = '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=GB2312">'
    text, charset = decode_html(page(NAMES, meta=meta), None)
    assert "朱镕基" in text and charset == "gb18030"


def test_header_charset_is_used() -> None:
    text, charset = decode_html(page(NAMES), "text/html; charset=GBK")
    assert "张喆" in text and charset == "gb18030"


def test_header_beats_a_meta_that_disagrees_when_both_decode() -> None:
    body = page(ARTICLE, meta='<meta charset="gbk">', charset="utf-8")
    text, charset = decode_html(body, 'text/html; charset="utf-8"')
    assert "政务公开" in text and charset == "utf-8"


def test_wrong_utf8_header_loses_to_a_meta_that_decodes_cleanly() -> None:
    body = page(NAMES + ARTICLE, meta='<meta charset="gb2312">')
    text, charset = decode_html(body, "text/html; charset=utf-8")
    assert "朱镕基" in text and "\ufffd" not in text
    assert charset == "gb18030"


def test_wrong_header_and_no_declaration_falls_back_to_detection() -> None:
    body = page(ARTICLE + NAMES)
    text, charset = decode_html(body, "text/html; charset=utf-8")
    assert "政务公开" in text and "\ufffd" not in text
    assert charset == "gb18030"


def test_one_truncated_character_does_not_overturn_the_header() -> None:
    body = f"<p>{ARTICLE}".encode() + "通".encode()[:2]  # transfer cut mid-character
    text, charset = decode_html(body, "text/html; charset=utf-8")
    assert charset == "utf-8" and "政务公开" in text
    assert text.count("\ufffd") == 1


def test_utf8_bom_is_used_and_stripped() -> None:
    text, charset = decode_html(codecs.BOM_UTF8 + page(ARTICLE, charset="utf-8"), None)
    assert charset == "utf-8"
    assert text.startswith("<html>")


def test_utf16_bom_page_decodes() -> None:
    body = codecs.BOM_UTF16_LE + page(NAMES, charset="utf-16-le")
    text, charset = decode_html(body, "text/html")
    assert charset == "utf-16-le"
    assert text.startswith("<html>") and "朱镕基" in text


def test_bom_beats_a_wrong_header_that_would_decode_into_nonsense() -> None:
    body = codecs.BOM_UTF8 + page(ARTICLE, charset="utf-8")
    text, charset = decode_html(body, "text/html; charset=gbk")
    assert charset == "utf-8" and "政务公开" in text


def test_bom_beats_a_latin1_header_that_decodes_without_errors() -> None:
    body = codecs.BOM_UTF8 + "<p>通知公告</p>".encode()
    assert body.decode("cp1252")  # the header alone would give clean-looking mojibake
    text, charset = decode_html(body, "text/html; charset=ISO-8859-1")
    assert (text, charset) == ("<p>通知公告</p>", "utf-8")


def test_forced_encoding_wins_over_header_and_meta() -> None:
    body = page(NAMES, meta='<meta charset="utf-8">')
    text, charset = decode_html(body, "text/html; charset=utf-8", forced="GBK")
    assert "张喆" in text and charset == "gb18030"


def test_unknown_forced_encoding_is_an_error_naming_it() -> None:
    with pytest.raises(DecodeError, match="klingon"):
        decode_html(b"<p>x</p>", None, forced="klingon")


def test_declaration_inside_a_comment_is_ignored() -> None:
    meta = '<!-- <meta charset="big5"> --><meta charset="gbk">'
    text, charset = decode_html(page(NAMES, meta=meta), None)
    assert charset == "gb18030" and "朱镕基" in text


def test_utf16_meta_label_on_an_ascii_readable_page_means_utf8() -> None:
    body = page(ARTICLE, meta='<meta charset="utf-16">', charset="utf-8")
    text, charset = decode_html(body, None)
    assert charset == "utf-8" and "政务公开" in text


def test_garbage_never_raises_and_is_replaced() -> None:
    body = bytes(range(256)) * 8
    text, charset = decode_html(body, "text/html; charset=utf-8")
    assert isinstance(text, str) and charset


def test_a_label_naming_a_codec_that_is_not_a_text_encoding_is_ignored() -> None:
    body = page(ARTICLE, meta='<meta charset="base64">', charset="utf-8")
    text, charset = decode_html(body, "text/html; charset=rot13")
    assert charset == "utf-8" and "政务公开" in text


def test_empty_body() -> None:
    assert decode_html(b"", "text/html; charset=gbk") == ("", "gb18030")


@pytest.mark.parametrize("label", [
    "gb2312", "GB2312", "gbk", "GBK", "gb_2312-80", "x-gbk", "cp936", "csGB2312", '"gb2312"',
    " gb2312 ", "GB18030",
])
def test_gb_family_labels_decode_as_gb18030(label: str) -> None:
    assert canonical_charset(label) == "gb18030"


@pytest.mark.parametrize(("label", "expected"), [
    ("utf-8", "utf-8"), ("UTF8", "utf-8"), ("big5", "big5hkscs"), ("iso-8859-1", "cp1252"),
    ("us-ascii", "cp1252"), ("no-such-charset", None), ("", None), (None, None),
    ("base64", None), ("rot13", None), ("zlib", None), ("undefined", None),  # not text
])
def test_other_labels(label: str | None, expected: str | None) -> None:
    assert canonical_charset(label) == expected
