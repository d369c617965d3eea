"""Column (listing) pages: the list of dated links is the content, the chrome is not.

A synthetic Chinese CMS column page built here (nav, side bar with its own dated list,
breadcrumb, 20 提案答复 items, pagination, footer), the real 上海卫健委 疫情通报 list page
of the corpus, and the article pages of the corpus, which must not become listings.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from monitor import noise
from monitor.detect import detect_change, snapshot
from monitor.diff import DELETE, INSERT, diff_texts
from monitor.extract import extract, listing, main_blocks
from monitor.fetch.encoding import decode_html
from monitor.render import render_text
from monitor.types import ChangeKind
from tests.pages import seed_page

CORPUS = Path(__file__).parent / "fixtures" / "corpus" / "cn-gov"
LIST_PAGE = "jsliteral__wsjkw-sh-gov-cn__yqtb-list-page.html"

Item = tuple[str, str]  # (title, date)

ITEMS: list[Item] = [(f"对市政协十三届三次会议第2019{460 - i:04d}号提案的答复",
                      f"2020-07-{20 - i // 2:02d}") for i in range(20)]
SIDE_HOT = [("关于做好2020年汛期安全防范工作的通知", "2020-06-30"),
            ("武汉市2020年国民经济和社会发展计划", "2020-06-28"),
            ("市人民政府关于印发武汉市优化营商环境若干措施的通知", "2020-06-20"),
            ("关于公布2020年第一批市级重点项目的通知", "2020-06-18"),
            ("市政府办公厅关于开展城市更新试点工作的意见", "2020-06-15")]
NAV = ["首页", "政务公开", "政务服务", "互动交流", "走进武汉", "专题专栏"]
SIDE_MENU = ["政府信息公开指南", "政府信息公开制度", "法定主动公开内容", "建议提案办理",
             "政府信息公开年报"]
CHROME = [*NAV, "当前位置", "热点信息", *(t for t, _ in SIDE_HOT), *SIDE_MENU[:3], "上一页",
          "下一页", "尾页", "共5页", "主办单位", "ICP备", "网站标识码", "访问者", "今天是",
          "网站地图", "无障碍"]


def _ul(items: list[Item], cls: str) -> str:
    lis = "".join(f'<li><a href="./202007/t2020070{i % 9}_{3300 + i}.shtml" title="{t}" '
                  f'target="_blank">{t}</a><span class="date">{d}</span></li>\n'
                  for i, (t, d) in enumerate(items))
    return f'<ul class="{cls}">\n{lis}</ul>'


def column_page(items: list[Item] = ITEMS, *, today: str = "2026年11月22日", visits: int = 123456,
                hot: list[Item] = SIDE_HOT, pages: int = 5) -> str:
    """A 建议提案办理 column of a municipal portal, as such CMSs serve it."""
    nav = "".join(f'<li><a href="/{i}/">{n}</a></li>' for i, n in enumerate(NAV))
    menu = "".join(f'<li><a href="/zwgk/{i}/">{m}</a></li>' for i, m in enumerate(SIDE_MENU))
    pager = "".join(f'<a href="index_{p}.shtml">{p}</a>' for p in range(2, pages + 1))
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>建议提案办理_武汉市人民政府</title><meta name="ColumnName" content="建议提案办理">
<script>var pageSize = 20;</script><link rel="stylesheet" href="/css/style.css"></head>
<body>
<div class="top-bar"><span class="today">今天是{today} 星期日</span>
 <a href="/wza/">无障碍</a> | <a href="/fanti/">繁體</a></div>
<div class="header"><h1 class="logo"><a href="/">武汉市人民政府</a></h1>
 <form class="search"><input name="q"><button>搜索</button></form></div>
<div class="nav"><ul>{nav}</ul></div>
<div class="container">
 <div class="position">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk/">政务公开</a> &gt;
  <a href="./">建议提案办理</a></div>
 <div class="side-bar"><h3>政务公开</h3><ul class="menu">{menu}</ul>
  <h3>热点信息</h3>{_ul(hot, "hot-list")}</div>
 <div class="main-right">
  <div class="column-title"><h2>建议提案办理</h2></div>
  {_ul(items, "list")}
  <div class="pagination"><a href="index.shtml">首页</a><a href="#">上一页</a><span>1</span>
   {pager}<a href="index_2.shtml">下一页</a><a href="index_{pages}.shtml">尾页</a>
   <span>共{pages}页</span></div>
 </div>
</div>
<div class="footer"><p><a href="/wzdt/">网站地图</a> | <a href="/lxwm/">联系我们</a></p>
 <p>主办单位：武汉市人民政府办公厅　承办单位：武汉市大数据中心</p>
 <p>鄂ICP备05003305号　政府网站标识码：4201000003　鄂公网安备 42010202000101号</p>
 <p>您是本站第 {visits} 位访问者</p></div>
<script>document.getElementById("x");</script>
</body></html>"""


def lines(items: list[Item]) -> str:
    return "\n".join(f"{t} | {d}" for t, d in items)


# --- the synthetic column page ----------------------------------------------------------


def test_column_page_text_is_every_item_and_none_of_the_chrome() -> None:
    got = extract(column_page())
    assert got.text == lines(ITEMS)
    for chrome in CHROME:
        assert chrome not in got.text, chrome
    assert got.title == "建议提案办理"


def test_an_added_item_is_a_change_that_inserts_exactly_that_item() -> None:
    new_item = ("对市政协十三届三次会议第20190461号提案的答复", "2020-07-21")
    old, new = extract(column_page()), extract(column_page([new_item, *ITEMS]))
    decision = detect_change(snapshot(old.title, old.text, old.metadata),
                             snapshot(new.title, new.text, new.metadata))
    # a new reply in a 建议提案办理 column is what its watchers wait for
    assert decision is not None and decision.kind is ChangeKind.REPLY_ADDED
    # named once (not again as 新增「…」 or as a paragraph number)
    assert decision.summary == "新增答复「对市政协十三届三次会议第20190461号提案的答复」"
    assert decision.details["items"] == {"added": [new_item[0]]}
    assert decision.stats["paragraphs_added"] == 1 and decision.stats["removed"] == 0
    diff = diff_texts(old.text, new.text)
    inserted = "".join(t for op, t in diff.ops if op == INSERT)
    assert inserted.strip("\n") == "对市政协十三届三次会议第20190461号提案的答复 | 2020-07-21"
    assert not [t for op, t in diff.ops if op == DELETE]
    assert "{+对市政协十三届三次会议第20190461号提案的答复 | 2020-07-21+}" in render_text(diff)


def test_a_new_item_that_is_no_reply_or_a_re_dated_reply_is_a_plain_change() -> None:
    def kind(items: list[Item]) -> ChangeKind | None:
        old, new = extract(column_page()), extract(column_page(items))
        d = detect_change(snapshot(old.title, old.text, old.metadata),
                          snapshot(new.title, new.text, new.metadata))
        return d.kind if d else None

    notice = ("关于召开2020年建议提案交办会的通知", "2020-07-22")
    assert kind([notice, *ITEMS]) is ChangeKind.CHANGED
    redated = [(ITEMS[0][0], "2020-07-25"), *ITEMS[1:]]  # the same reply, a new date
    assert kind(redated) is ChangeKind.CHANGED


def test_a_removed_and_a_re_dated_item_are_changes() -> None:
    redated = [*ITEMS[:3], (ITEMS[3][0], "2020-08-01"), *ITEMS[4:19]]
    old, new = extract(column_page()).text, extract(column_page(redated)).text
    kinds = [p.kind for p in diff_texts(old, new).changed_paragraphs()]
    assert sorted(kinds) == ["modified", "removed"]


def test_a_column_intro_the_article_finder_likes_does_not_hide_the_list() -> None:
    intro = ('<div class="column-intro"><p>本栏目公开市人民政府各部门、各区人民政府'
             '办理市人大代表建议和市政协委员提案的答复，供社会各界查阅。</p></div>')
    html = column_page().replace('<div class="column-title">',
                                 intro + '<div class="column-title">')
    assert extract(html).text == lines(ITEMS)


SHORT_REPLY = ["张委员：", "您提出的关于加快人工智能产业发展的提案收悉。经研究，现答复如下：",
               "一、加大政策支持力度。我局将会同市发改委、市科技局，研究制定支持人工智能产业发展的"
               "若干措施，对重点项目给予资金支持。",
               "二、推动产业集聚发展。依托东湖高新区，建设人工智能产业园，引进龙头企业，培育创新"
               "型中小企业，形成完整的产业链条。",
               "感谢您对我市工作的关心和支持。", "武汉市经济和信息化局", "2020年7月1日"]


def test_a_short_reply_beside_a_longer_dated_list_stays_the_reply() -> None:
    reply = "".join(f"<p>{p}</p>" for p in SHORT_REPLY)
    related = _ul(ITEMS[:12], "list")
    html = f"<body><div class='content'>{reply}</div><div class='box'>{related}</div></body>"
    assert extract(html).text == "\n".join(SHORT_REPLY)


def test_chrome_changes_of_a_column_page_are_no_change() -> None:
    base = extract(column_page())
    noisy = extract(column_page(today="2027年1月5日", visits=999999, pages=6,
                                hot=[("关于新增的热点信息通知", "2020-07-21"), *SIDE_HOT[:4]]))
    assert noisy.text == base.text and noisy.title == base.title


@pytest.mark.parametrize("item", [
    '<li><a href="/a"><span>{t}</span><em>{d}</em></a></li>',  # the date inside the link
    '<li><span class="date">[{d}]</span><a href="/a">{t}</a></li>',  # the date before
    '<li><a href="/a">{t}</a><span>{y}年{m}月{day}日</span></li>',
])
def test_item_shapes(item: str) -> None:
    items = "".join(item.format(t=t, d=d, y=d[:4], m=int(d[5:7]), day=int(d[8:]))
                    for t, d in ITEMS[:5])
    got = extract(f"<div class='nav'><a href='/'>首页</a></div><ul>{items}</ul>").text
    titles = [line.split(" | ")[0] for line in got.split("\n")]
    assert titles == [t for t, _ in ITEMS[:5]]
    assert all(" | 2020" in line for line in got.split("\n"))


def test_a_table_of_dated_links_is_a_listing() -> None:
    rows = "".join(f"<tr><td><a href='/a'>{t}</a></td><td>{d}</td></tr>" for t, d in ITEMS[:6])
    html = (f"<div class='menu'><a href='/'>首页</a> <a href='/b'>政务公开</a></div>"
            f"<table>{rows}</table>")
    assert extract(html).text == lines(ITEMS[:6])


def test_a_nav_menu_without_dates_is_not_a_listing() -> None:
    html = column_page().replace('<ul class="list">', '<ul class="list-x">')
    body = LexborHTMLParser(html).body
    assert body is not None
    found = [li.container.attributes.get("class") for li in listing.find_listings(body)]
    assert found == ["hot-list", "list-x"]  # not the nav, the side menu or the pager


@pytest.mark.parametrize("count", [1, 2])
def test_a_listing_sources_column_of_one_or_two_items_is_its_list_not_the_side_bar(
        count: int) -> None:
    html = column_page(ITEMS[:count])
    got = extract(html, url="https://www.wuhan.gov.cn/zwgk/jytabl/index.shtml", column=True)
    assert got.text == lines(ITEMS[:count])
    assert [d.title for d in got.documents] == [t for t, _ in ITEMS[:count]]
    assert extract(html).text != got.text  # on any other page: too few to be a list


def test_a_listing_sources_page_of_nav_links_only_lists_nothing() -> None:
    html = column_page([], hot=[])  # nav, side menu, pager: links without dates
    body = LexborHTMLParser(html).body
    assert body is not None and listing.find_listings(body, column=True) == []
    assert extract(html, url="https://www.wuhan.gov.cn/", column=True).documents == ()


# --- real pages --------------------------------------------------------------------------


def test_real_list_page_is_its_twenty_items() -> None:
    got = extract((CORPUS / LIST_PAGE).read_text(encoding="utf-8"))
    got_lines = got.text.split("\n")
    assert len(got_lines) == 20
    assert got_lines[0] == ("4月26日（0-24时）本市各区确诊病例、无症状感染者居住地信息"
                            " | 2022-04-27")
    assert got_lines[2] == ("上海2022年4月25日，新增本土新冠肺炎确诊病例1661例"
                            "新增本土无症状感染者15319例无新增境外输入性新冠肺炎确诊病例"
                            "无新增境外输入性无症状感染者 | 2022-04-26")
    assert all(line.rsplit(" | ", 1)[1].startswith("2022-04-") for line in got_lines)
    for chrome in ("不能读取工具条", "您现在所在的位置", "首页", "新冠肺炎疫情防控"):
        assert chrome not in got.text
    assert got.title == "疫情通报"


ARTICLES = sorted(p.name for p in CORPUS.glob("*.html")
                  if p.name != LIST_PAGE and "antibot" not in p.name)


@pytest.mark.parametrize("name", ARTICLES)
def test_article_pages_of_the_corpus_are_not_listings(name: str) -> None:
    tree = LexborHTMLParser(decode_html((CORPUS / name).read_bytes(), None)[0])
    assert tree.body is not None and tree.root is not None
    noise.drop_non_content(tree.root)
    noise.remove_dom_noise(tree.body)
    assert listing.choose(tree.body, main_blocks(tree.body)) is None


def test_an_article_with_a_dated_related_list_stays_the_article() -> None:
    article = seed_page(0).decode("utf-8")
    related = _ul(ITEMS[:8], "list")
    box = f"<div class='box'><h3>相关文章</h3>{related}</div>"
    with_list = article.replace("</body>", box + "</body>")
    assert box in with_list
    assert extract(with_list).text == extract(article).text


def test_a_removed_item_beside_a_re_dated_neighbour_is_two_events_each_named() -> None:
    items = [*ITEMS]
    removed = items.pop(4)
    neighbour = items[4]
    items[4] = (neighbour[0], "2020-07-25")  # the item after it was re-dated
    old, new = extract(column_page()), extract(column_page(items))
    d = detect_change(snapshot(old.title, old.text, old.metadata),
                      snapshot(new.title, new.text, new.metadata))
    assert d is not None and d.kind is ChangeKind.CHANGED
    assert d.summary == (f"删除「{removed[0]}」；"
                         f"「{neighbour[0]}」日期 {neighbour[1]} → 2020-07-25")
    assert d.details["items"] == {"removed": [removed[0]],
                                  "redated": [[neighbour[0], neighbour[1], "2020-07-25"]]}


def test_a_short_chinese_title_is_an_item_of_a_found_column() -> None:
    """A dated item whose link is its whole text counts however short its title (新答复):
    the column of three is found and lists its three documents."""
    items = [("关于加快推进数字政府建设工作的答复", "2026-12-04"), ("新答复", "2026-12-05"),
             ("关于优化营商环境的答复", "2026-12-03")]
    html = column_page(items, hot=[])
    assert extract(html).text == lines(items)
    got = extract(html, url="https://www.wuhan.gov.cn/zwgk/jytabl/index.shtml", column=True)
    assert got.text == lines(items)
    assert [d.title for d in got.documents] == [t for t, _ in items]


@pytest.mark.parametrize("item", [
    "<li>{t}<a href='/a'>详情</a><span>{d}</span></li>",  # a generic link beside the title
    "<li><a href='/c'>通知</a>{t}<span>{d}</span></li>",  # a category tag
])
def test_a_short_link_beside_a_title_in_plain_text_is_no_item(item: str) -> None:
    lis = "".join(item.format(t=t, d=d) for t, d in ITEMS[:5])
    body = LexborHTMLParser(f"<ul class='list'>{lis}</ul>").body
    assert body is not None and listing.find_listings(body) == []
