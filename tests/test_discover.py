"""Which links of a column page are documents (``monitor.discover``)."""

from __future__ import annotations

import re
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from monitor import discover
from monitor.extract import extract

CORPUS = Path(__file__).parent / "fixtures" / "corpus" / "cn-gov"
PAGE = "http://gxt.example.gov.cn/gxt/xxgk/jytabl/index.html"


def column(items: str, head: str = "") -> str:
    return (f"<html><head><title>建议提案办理</title>{head}</head><body>"
            "<div class='nav'><a href='/'>首页</a><a href='/xxgk/'>信息公开</a></div>"
            f"<ul class='list'>{items}</ul>"
            "<div class='page'><a href='index_1.html'>下一页</a></div></body></html>")


def item(href: str, title: str, date: str = "2021-06-24", extra: str = "") -> str:
    return f"<li><a href='{href}'>{title}</a>{extra}<span>{date}</span></li>"


def test_links_resolve_against_the_page_and_junk_links_are_not_documents() -> None:
    html = column(
        item("t20210624_0192.html#top", "关于省政协十二届四次会议第0192号提案的答复")
        + item("../jytabl/t20210623_0188.html?utm_source=wx&id=7",
               "关于省政协十二届四次会议第0188号提案的答复", "2021-06-23")
        + item("javascript:void(0)", "关于省政协十二届四次会议第0101号提案的答复")
        + item("#", "关于省政协十二届四次会议第0102号提案的答复")
        + item("/gxt/xxgk/jytabl/t20210620_0150.html", "关于第0150号建议的答复", "2021-06-20"))
    docs = extract(html, url=PAGE).documents
    assert [(d.url, d.date) for d in docs] == [
        ("http://gxt.example.gov.cn/gxt/xxgk/jytabl/t20210624_0192.html", "2021-06-24"),
        ("http://gxt.example.gov.cn/gxt/xxgk/jytabl/t20210623_0188.html?id=7", "2021-06-23"),
        ("http://gxt.example.gov.cn/gxt/xxgk/jytabl/t20210620_0150.html", "2021-06-20")]
    assert docs[0].title == "关于省政协十二届四次会议第0192号提案的答复"


def test_base_href_decides_where_relative_links_point() -> None:
    html = column("".join(item(f"t2021062{i}_{i}.html", f"关于第000{i}号提案的答复")
                          for i in range(3)),
                  head="<base href='https://www.example.gov.cn/art/2021/'>")
    urls = [d.url for d in extract(html, url=PAGE).documents]
    assert urls == [f"https://www.example.gov.cn/art/2021/t2021062{i}_{i}.html"
                    for i in range(3)]


def test_a_document_linked_twice_is_one_document_with_its_full_title() -> None:
    html = column("".join(
        f"<li><a href='t{i}.html'>关于第000{i}号提案的答复</a><span>2021-06-2{i}</span>"
        f"<a href='t{i}.html'>详情</a></li>" for i in range(4)))
    docs = extract(html, url=PAGE).documents
    assert [d.title for d in docs] == [f"关于第000{i}号提案的答复" for i in range(4)]
    assert len({d.url for d in docs}) == 4


def test_a_selector_and_a_url_pattern_choose_the_documents() -> None:
    html = column("".join(item(f"t2021062{i}_{i}.html", f"关于第000{i}号提案的答复")
                          for i in range(3)) + item("/xxgk/other.html", "关于信息公开的说明"))
    body = LexborHTMLParser(html).body
    assert body is not None
    docs = discover.from_selector(body, "ul.list li a", PAGE,
                                  match=re.compile(r"t\d{8}_\d+\.html$"))
    assert [d.url.rsplit("/", 1)[1] for d in docs] == [f"t2021062{i}_{i}.html"
                                                      for i in range(3)]
    assert docs[1].date == "2021-06-24"


def test_a_real_column_page_yields_its_twenty_documents() -> None:
    html = (CORPUS / "jsliteral__wsjkw-sh-gov-cn__yqtb-list-page.html").read_text("utf-8")
    got = extract(html, url="https://wsjkw.sh.gov.cn/yqtb/index.html")
    assert got.listing and len(got.documents) == 20
    assert len(got.text.splitlines()) == 20  # one item line per document
    detail = [d for d in got.documents if d.url.startswith("https://wsjkw.sh.gov.cn/xwfb/")]
    assert detail[0].url.endswith("/xwfb/20220426/d4d847dcf3f64fcab102cf5a65656891.html")
    assert detail[0].date == "2022-04-26"
    assert all(d.url.startswith("https://") and "#" not in d.url for d in got.documents)


def test_an_article_page_lists_no_documents() -> None:
    html = ("<html><body><div class='article'>" + "<p>现答复如下：已安排专项资金。</p>" * 8
            + "</div></body></html>")
    got = extract(html, url=PAGE)
    assert not got.listing and got.documents == ()
