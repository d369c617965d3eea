"""extract + extract_metadata on pages built from the seeds and on real corpus pages.

Pure functions, no network.  Corpus pages are in tests/fixtures/corpus (provenance in
its SOURCES.md); GBK files are decoded here with gb18030, the superset browsers use.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import EmptyContentError, SelectorMatchedNothingError
from monitor.extract import extract
from monitor.extract.metadata import extract_metadata
from monitor.normalize import normalize_text
from tests.pages import GBK_ONLY_LINE, seed, seed_page, seed_paragraphs, seed_text

CORPUS = Path(__file__).parent / "fixtures" / "corpus" / "cn-gov"


def corpus(name: str, codec: str = "utf-8") -> str:
    return (CORPUS / name).read_bytes().decode(codec)


def page(n: int, **kw: object) -> str:
    return seed_page(n, **kw).decode("utf-8")  # type: ignore[arg-type]


# --- the seed pages --------------------------------------------------------------------

KEY_SENTENCES = {
    0: ["湘工信提案函〔2021〕254号", "人工智能是引领新一轮科技革命和产业变革的战略性技术",
        "感谢您对我省人工智能产业发展工作的关心和支持。"],
    1: ["您提出的关于《加强武汉市人工智能产业发展构建国家创新城市的建议》提案收悉",
        "(四)将人工智能技术及其应用引进城市建设"],
    2: ["案由:(20200255)关于人工智能协同创新体系,引领人工智能创新发展建议",
        "东科函〔2020〕79号", "办理单位科技局,发展和改革局,市工信局"],
    3: ["各市、州、县人民政府,省政府各部门:", "五、保障措施", "吸引高端人才集聚。"],
}
# Template chrome and widgets around every seed page; none of it is the article.
CHROME = ["当前位置", "机构概况", "人事信息", "上一篇", "下一篇", "分享到", "字体：", "【打印】",
          "点击", "今天是", "星期日", "访问者", "返回顶部", "加入收藏", "无障碍", "支持 0",
          "网友评价", "来源：", "主办单位", "政府网站标识码", "湘公网安备", "Copyright"]


@pytest.mark.parametrize("n", range(4))
def test_seed_page_text_is_exactly_the_article(n: int) -> None:
    got = extract(page(n))
    assert got.text == normalize_text("\n".join(seed_paragraphs(n)))
    for sentence in KEY_SENTENCES[n]:
        assert sentence in got.text
    for chrome in CHROME:
        assert chrome not in got.text, chrome


@pytest.mark.parametrize("n", range(4))
def test_seed_page_title_is_the_heading_without_the_site_name(n: int) -> None:
    assert extract(page(n)).title == seed(n).title
    assert "_" not in extract(page(n)).title


def test_seed_000_metadata_from_its_table() -> None:
    meta = extract(page(0)).metadata
    assert meta["文号"] == "湘工信提案函〔2021〕254号"
    assert meta["索引号"] == "430S00/2021-08026431"
    assert meta["发文日期"] == "2021-06-24 09:46"
    assert meta["标题"] == "对省政协十二届四次会议第0192号提案的答复"
    assert "发布机构" not in meta  # the table has the label and no value


def test_seed_003_byline_date_is_metadata_and_the_empty_counter_is_not() -> None:
    meta = extract(page(3, counter=None)).metadata
    assert meta == {"发布日期": "2020-09-24"}


NOISE_VARIANTS = [
    {"counter": 98765}, {"counter": None}, {"today": "2027年1月5日"},
    {"token": "0123456789abcdef"}, {"indent": "\t"}, {"indent": ""}, {"fullwidth": True},
    {"wrap": 7}, {"wrap": 23, "indent": "    "}, {"neighbours": ("甲通知", "乙通知")},
    {"votes": (12, 3)}, {"extra_noise": False},
    {"counter": 1, "today": "2030年2月3日", "token": "ff", "fullwidth": True, "wrap": 11},
]


# Only the Dongguan proposal page (002) has a vote widget.
SEED_VARIANTS = [(n, v) for n in range(4) for v in NOISE_VARIANTS if "votes" not in v or n == 2]


@pytest.mark.parametrize(("n", "variant"), SEED_VARIANTS, ids=str)
@pytest.mark.parametrize("content", [(), (".article",), ("body",)], ids=str)
def test_noise_only_variants_give_identical_text(n: int, variant: dict[str, object],
                                                  content: tuple[str, ...]) -> None:
    base_html, other_html = page(n), page(n, **variant)
    assert base_html != other_html
    base, other = extract(base_html, content=content), extract(other_html, content=content)
    assert other.text == base.text
    assert other.title == base.title
    assert other.metadata == base.metadata


def test_noise_inside_the_selected_content_is_removed() -> None:
    got = extract(page(0, counter=4242), content=[".article"])
    assert "发布时间：2021-06-24 09:46 来源：湖南省工业和信息化厅" in got.text
    assert "4242" not in got.text and "点击" not in got.text
    assert any("4242" in note for note in got.removed)


def test_a_real_edit_changes_the_text() -> None:
    base = extract(page(0)).text
    edited = extract(page(0, edit=("头雁效应", "引领效应"))).text
    assert edited != base
    assert "引领效应" in edited and "头雁效应" not in edited
    assert len(edited.split("\n")) == len(base.split("\n"))


def test_an_added_reply_is_a_new_last_line() -> None:
    added = extract(page(2, edit=lambda ps: [*ps, "补充答复：我局将持续跟进。"])).text
    assert added.split("\n")[-1] == "补充答复：我局将持续跟进。"


def test_gbk_page_that_declares_gb2312_keeps_its_gbk_only_characters() -> None:
    raw = seed_page(0, encoding="gbk")
    assert b"charset=gb2312" in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gb2312")  # 喆 and 镕 are outside GB2312
    got = extract(raw.decode("gb18030"))
    assert "承办人:刘喆 审核人:黄镕" in got.text
    assert got.text == extract(page(0)).text
    assert GBK_ONLY_LINE.split(":")[1].startswith("刘喆")


def test_inline_elements_join_without_adding_or_losing_characters() -> None:
    html = ('<div class="content"><p><span>人工</span><span>智能</span><b>2021</b>年'
            '<font color="red">6</font>月<a href="#">产业</a><strong>发展</strong>'
            '<em>规划</em>。</p><p>第二段<span>文字</span></p></div>')
    assert extract(html).text == "人工智能2021年6月产业发展规划。\n第二段文字"
    # Seed 000 has "20216月23": digits in spans on the page, nothing inserted.
    assert "20216月23" in extract(page(0)).text


def test_blocks_br_list_items_and_headings_are_lines() -> None:
    html = ("<body><div id='zoom'><h2>一、总体要求</h2>第一行<br>第二行<ul><li>甲项</li>"
            "<li>乙项</li></ul><div>丙段</div></div></body>")
    assert extract(html, content=["#zoom"]).text == "一、总体要求\n第一行\n第二行\n甲项\n乙项\n丙段"


def test_table_rows_join_cells_with_a_bar_and_layout_cells_keep_their_lines() -> None:
    html = ("<table id='t'><tr><th>地区</th><th>病例</th></tr><tr><td>浦东</td><td>789</td></tr>"
            "<tr><td>崇明</td><td></td><td>305</td></tr></table>"
            "<table id='layout'><tr><td><p>左栏第一段</p><p>左栏第二段</p></td>"
            "<td>右栏</td></tr></table>")
    assert extract(html, content=["#t"]).text == "地区 | 病例\n浦东 | 789\n崇明 | 305"
    assert extract(html, content=["#layout"]).text == "左栏第一段\n左栏第二段\n右栏"


def test_content_selectors_take_all_matches_in_document_order() -> None:
    html = "<div class='b'>乙</div><div class='a'>甲一</div><div class='b'>乙二</div>"
    assert extract(html, content=[".a", ".b"]).text == "乙\n甲一\n乙二"


def test_content_selector_that_matches_nothing_names_the_selector() -> None:
    with pytest.raises(SelectorMatchedNothingError, match=r"div\.v_news_content"):
        extract(page(1), content=["div.v_news_content"])


def test_content_selector_that_matches_only_empty_elements_is_empty() -> None:
    with pytest.raises(EmptyContentError):
        extract("<p>正文</p><div class='c'> \u3000 </div>", content=[".c"])


@pytest.mark.parametrize("html", ["", "   \n", "<html><body><script>x()</script></body></html>"])
def test_empty_page_raises(html: str) -> None:
    with pytest.raises(EmptyContentError):
        extract(html)


def test_ignore_selectors_are_removed_and_noted() -> None:
    got = extract(page(1), ignore=["#zoom p:first-child"])
    assert not got.text.startswith("您提出的关于")
    assert any("#zoom p:first-child" in note for note in got.removed)


def test_scripts_styles_comments_and_hidden_fields_are_not_text() -> None:
    html = ("<div class='content'><p>正文第一段，内容。</p><script>var a='脚本';</script>"
            "<style>.x{}</style><!-- 注释 --><noscript>请启用脚本</noscript>"
            "<template><p>模板</p></template><iframe>框架</iframe>"
            "<input type='hidden' name='__VIEWSTATE' value='dDwtMTA4'>"
            "<p style='display:none'>隐藏段落</p><p>第二段。</p></div>")
    got = extract(html)
    assert got.text == "正文第一段，内容。\n第二段。"
    assert any("__VIEWSTATE" in note for note in got.removed)


def test_hidden_tabs_count_only_inside_the_chosen_content() -> None:
    html = ("<div id='tabs'><div>第一页：政策原文。</div><div style='display: none'>第二页："
            "政策解读。</div></div><p hidden>评论数 0</p>")
    assert extract(html, content=["#tabs"]).text == "第一页：政策原文。\n第二页：政策解读。"
    assert extract(html).text == "第一页：政策原文。"


# --- real pages ------------------------------------------------------------------------

REAL = [
    ("gne__www-gov-cn__gongbao-2007-23-article.html", "utf-8",
     ["会议决定：批准发行15500亿元特别国债购买外汇",
      "（2007年6月29日第十届全国人民代表大会常务委员会第二十八次会议通过）"],
     ["国务院公报", "默认", "ICP备"]),
    ("cwced__xxgk-jl-gov-cn__tonggao-metadata-table.html", "utf-8",
     ["自本通告发布之日起", "特此通告。"], ["分享到", "微信", "ICP备"]),
    ("sql-fragment__www-gov-cn__tian-dafu-4626__metadata-table.fragment.html", "utf-8",
     ["您提出的《关于设立总理热线电话的提案》收悉。经研究，答复如下：", "（本文有删减）"],
     ["索引号", "主题词"]),
    ("sql-fragment__www-gov-cn__jianyi-dafu-7240__metadata-table.fragment.html", "utf-8",
     ["周桂英等代表：", "感谢你们对政府工作的关心和支持。"], ["索引号", "发布日期"]),
    ("sql-fragment__www-gov-cn__xiongan-guihua-pifu__metadata-table.fragment.html", "utf-8",
     ["河北省人民政府、国家发展改革委：", "十四、加强规划组织实施。"], ["索引号"]),
    ("savedpage__wanzai-gov-cn__tjgb-2022-metadata-visits.html", "utf-8",
     ["全年实现生产总值(GDP)262.6亿元", "5.万元GDP能耗按2020年不变价格计算。"],
     ["访问量", "1632", "当前所在位置", "ICP备", "网站地图"]),
    ("savedpage__yichun-gov-cn__tjgb-2022-metadata-visits.html", "utf-8",
     ["宜春市统计局\u3000国家统计局宜春调查队", "7.万元GDP能耗按2020年不变价格计算。"],
     ["访问量", "4859", "当前所在位置", "ICP备"]),
    ("cwced__bynr-gov-cn__zhengxie-news-article.html", "utf-8",
     ["新征程催人奋进，新使命激荡人心。", "预祝大会圆满成功！"],
     ["动态信息", "打印本页", "扫一扫", "ICP备"]),
    ("cwced__nmg-gov-cn__portal-article.html", "utf-8",
     ["自治区财政厅传出最新消息", "减免税金约135亿元"],
     ["分享到", "字体", "今日关注", "上一篇", "ICP备"]),
    ("gne__shanxi-gov-cn__portal-article-rendered.html", "utf-8",
     ["山西品牌丝路行首次登陆巴西", "南美站活动将先后在巴西、乌拉圭、阿根廷举行。"],
     ["放大", "缩小", "山西要闻", "ICP备"]),
    ("gne__fgw-zj-gov-cn__hanweb-article-rendered.html", "utf-8",
     ["1-10月，全县固定资产投资完成246.79亿元", "（德清县发改局）"],
     ["浏览次数", "投资运行", "打印", "ICP备"]),
    ("cwced__cnr-cn__NONGOV-state-media-trs-gb2312.html", "gb18030",
     ["中央军委主席习近平日前签署命令", "《规定》共11章56条"], ["中国之声 >", "央广网版权"]),
    ("jsliteral__wsjkw-sh-gov-cn__xwfb-20220426-detail.html", "utf-8",
     ["新增治愈出院1941例。", "合计 | 23777"], ["您现在所在的位置"]),
]


@pytest.mark.parametrize(("name", "codec", "present", "absent"), REAL, ids=[r[0] for r in REAL])
def test_real_page_text_is_the_article(name: str, codec: str, present: list[str],
                                       absent: list[str]) -> None:
    got = extract(corpus(name, codec))
    for sentence in present:
        assert sentence in got.text
    for noise in absent:
        assert noise not in got.text, noise


@pytest.mark.parametrize(("name", "expected"), [
    ("cwced__xxgk-jl-gov-cn__tonggao-metadata-table.html",
     {"索引号": "11220000013544357T/2022-00426", "发布机构": "吉林省人民政府",
      "发文日期": "2022年01月27日", "发布日期": "2022年01月28日", "文号": "吉政明电〔2022〕1号",
      "主题分类": "环境监测、保护与治理;通告",
      "标题": "吉林省人民政府关于禁止在吉林省嫩江干流补充治理工程建设征占地范围内"
              "新增建设项目和迁入人口的通告"}),
    ("sql-fragment__www-gov-cn__tian-dafu-4626__metadata-table.fragment.html",
     {"索引号": "000014349/2006-00213", "发布机构": "国务院办公厅", "发文日期": "2006年10月18日",
      "发布日期": "2018年12月24日", "文号": "国办函〔2006〕82号", "主题分类": "其他",
      "标题": "国务院办公厅对全国政协十届四次会议第4626号提案的答复"}),
    ("sql-fragment__www-gov-cn__jianyi-dafu-7240__metadata-table.fragment.html",
     {"索引号": "000014349/2006-00212", "发布机构": "国务院办公厅", "发文日期": "2006年09月07日",
      "发布日期": "2018年12月24日", "文号": "国办函〔2006〕71号", "主题分类": "其他",
      "标题": "国务院办公厅对十届全国人大四次会议第7240号建议的答复"}),
    ("sql-fragment__www-gov-cn__xiongan-guihua-pifu__metadata-table.fragment.html",
     {"索引号": "000014349/2018-00224", "发布机构": "国务院", "发文日期": "2018年12月25日",
      "发布日期": "2019年01月02日", "文号": "国函〔2018〕159号",
      "主题分类": "城乡建设、环境保护\\城市规划",
      "标题": "国务院关于河北雄安新区总体规划（2018—2035年）的批复"}),
    ("savedpage__yichun-gov-cn__tjgb-2022-metadata-visits.html",
     {"索引号": "014717475N/2023-0040295", "发布机构": "宜春市统计局", "发文日期": "2023-04-18",
      "主题分类": "统计公报"}),
    ("savedpage__wanzai-gov-cn__tjgb-2022-metadata-visits.html",
     {"索引号": "014742224A/2023-0043406", "发布机构": "万载县统计局", "发布日期": "2023-05-11"}),
])
def test_real_page_metadata(name: str, expected: dict[str, str]) -> None:
    assert extract(corpus(name)).metadata == expected


@pytest.mark.parametrize(("name", "title"), [
    ("gne__www-gov-cn__gongbao-2007-23-article.html",
     "全国人民代表大会常务委员会关于批准财政部发行特别国债购买外汇及调整2007 年末"
     "国债余额限额的决议"),
    ("gne__shanxi-gov-cn__portal-article-rendered.html", "山西品牌丝路行（南美站）正式启动"),
    ("savedpage__yichun-gov-cn__tjgb-2022-metadata-visits.html",
     "宜春市2022年国民经济和社会发展统计公报"),
    ("cwced__bynr-gov-cn__zhengxie-news-article.html",
     "为现代化巴彦淖尔建设凝聚强大智慧和力量——热烈祝贺市政协五届一次会议开幕"),
    ("sql-fragment__www-gov-cn__tian-dafu-4626__metadata-table.fragment.html",
     "国务院办公厅对全国政协十届四次会议第4626号提案的答复"),
])
def test_real_page_title_without_site_name(name: str, title: str) -> None:
    assert extract(corpus(name)).title == title


def test_visit_counters_of_real_pages_are_noted_as_removed() -> None:
    removed = extract(corpus("savedpage__wanzai-gov-cn__tjgb-2022-metadata-visits.html")).removed
    assert any("访问量" in note and "1632" in note for note in removed)


def test_bjjs_noise_only_pair_extracts_identically() -> None:
    before = corpus("bjjs-zjw-beijing__fwjy-stats__20190104.html")
    after = corpus("bjjs-zjw-beijing__fwjy-stats__20190105.html")
    assert before != after  # createDate and the portalJsessionId token differ
    a, b = extract(before), extract(after)
    assert a.text == b.text
    # A dozen small tables in one box: all of them are the content.
    assert "可售期房统计" in a.text and "现房项目个数： | 27838" in a.text
    assert "可售房源套数： | 13854" in a.text
    assert "京ICP备" not in a.text and "网站导航" not in a.text


def test_bjjs_real_data_change_shows_in_the_text() -> None:
    a = extract(corpus("bjjs-zjw-beijing__fwjy-stats__20230905.html")).text
    b = extract(corpus("bjjs-zjw-beijing__fwjy-stats__20230906.html")).text
    assert "可售房屋套数： | 170474" in a
    assert "可售房屋套数： | 171225" in b
    assert "2023年8月存量房网上签约" in a and "网上签约套数： | 12603" in a


# --- metadata on its own ---------------------------------------------------------------


def test_bare_document_number_line_of_a_reply_is_its_wenhao() -> None:
    meta = extract_metadata(seed_text(0))
    assert meta["文号"] == "湘工信提案函〔2021〕254号"
    assert meta["索引号"] == "430S00/2021-08026431"
    assert meta["发文日期"] == "2021-06-24 09:46"
    assert "发布机构" not in meta and "主题分类" not in meta


def test_metadata_from_a_list_and_th_td_pairs() -> None:
    html = ("<ul><li><span>索 引 号：</span>430S00/2021-08026431</li><li>发布机构：</li>"
            "<li>发文日期：2021-06-24</li><li>组配分类：其他</li></ul>"
            "<table><tr><th>发文字号</th><td>湘政函〔2021〕1号</td><th>有 效 性：</th><td>有效</td>"
            "</tr><tr><th>名称</th><td>不是字段（名称没有冒号）</td></tr></table>")
    assert extract_metadata(html) == {"索引号": "430S00/2021-08026431", "发文日期": "2021-06-24",
                                      "文号": "湘政函〔2021〕1号", "有效性": "有效"}


def test_a_bare_wenhao_cell_is_the_document_number_when_its_value_is_one() -> None:
    # 文号 without its colon: believed when the next cell is a document number (a
    # reply's table as published), not when it is a data table's column heading.
    html = ("<table><tr><td>索引号</td><td>430S00/2021-1</td></tr>"
            "<tr><td>文号</td><td>湘工信提案函〔2021〕254号</td></tr></table>"
            "<table><tr><td>文号</td><td>说明</td></tr></table>")
    assert extract_metadata(html) == {"索引号": "430S00/2021-1",
                                      "文号": "湘工信提案函〔2021〕254号"}


def test_metadata_in_scripts_and_comments_is_not_metadata() -> None:
    html = ("<table><!--<tr><td>有效性：</td><td>失效</td></tr>--><tr><td>索引号：</td><td>A/1</td>"
            "</tr></table><script>document.write('<td>有效性：</td><td>有效</td>')</script>")
    assert extract_metadata(html) == {"索引号": "A/1"}


@pytest.mark.parametrize(("line", "number"), [
    ("（文件编号：鄂政办〔2026〕3号）", "鄂政办〔2026〕3号"),  # the label's bracket: not its
    ("(发文字号:湘政发〔2025〕12号)", "湘政发〔2025〕12号"),
    ("文号：国办函〔2026〕7号", "国办函〔2026〕7号"),
    ("文号：【2026】第3号】", "【2026】第3号"),
])
def test_a_document_number_written_in_brackets_ends_inside_them(line: str, number: str) -> None:
    html = (f"<html><body><div class='c'><p>关于印发某某方案的通知</p><p>{line}</p>"
            "<p>各市、州人民政府：现将方案印发给你们，请认真贯彻执行。</p></div></body></html>")
    assert extract(html, content=("div.c",)).metadata["文号"] == number


# A byline inside the article, a counter or widget right after its date (a QA pass found
# every one of these counters in 发布日期, so a moving count was a change on every check).
ARTICLE = ("<html><body><div class='c'><h1>关于印发某某方案的通知</h1><p>{line}</p>"
           "<p>各市、州人民政府：现将方案印发给你们，请认真贯彻执行。</p></div></body></html>")


@pytest.mark.parametrize("space", [" ", "\u3000", ""], ids=["ascii", "ideographic", "none"])
@pytest.mark.parametrize("counter", ["阅读次数", "阅读量", "访问次数", "浏览量", "查看次数",
                                     "点击率", "人气", "浏览次数", "点击", "来源"])
def test_a_counter_after_the_date_ends_the_date(counter: str, space: str) -> None:
    line = f"发布时间：2021-06-24{space}{counter}：98765次"
    assert extract(ARTICLE.format(line=line)).metadata == {"发布日期": "2021-06-24"}
    assert extract_metadata(f"<p>{line}</p>") == {"发布日期": "2021-06-24"}


@pytest.mark.parametrize(("line", "expected"), [
    ("发布时间：2021-06-24 【字体：大 中 小】", {"发布日期": "2021-06-24"}),
    ("发布时间：2021-06-24 09:46:00 [ 字体：大 中 小 ] 【打印】",
     {"发布日期": "2021-06-24 09:46:00"}),
    ("发布日期：2021年06月24日 星期四", {"发布日期": "2021年06月24日"}),
    ("成文日期：2021-06-24 打印本页 关闭窗口", {"发文日期": "2021-06-24"}),
    ("发布时间：2021-06-24 分享到：", {"发布日期": "2021-06-24"}),
    ("发文机关：湖南省工业和信息化厅 阅读量：5", {"发布机构": "湖南省工业和信息化厅"}),
    ("发布日期：二〇二一年六月 来源：本站", {"发布日期": "二〇二一年六月"}),
])
def test_a_metadata_value_ends_where_the_widget_or_next_label_starts(
        line: str, expected: dict[str, str]) -> None:
    assert extract_metadata(f"<p>{line}</p>") == expected


@pytest.mark.parametrize("counter", ["浏览次数 123", "阅读量 57", "阅读量57次", "点击数：99",
                                     "访问次数 1,234 次", "人气 8"])
@pytest.mark.parametrize("field", ["发布机构：湖南省工业和信息化厅", "索引号：430S00/2021-08026431",
                                   "文号：湘工信提案函〔2021〕254号", "主题分类：工业"])
def test_a_counter_without_a_colon_ends_any_field(field: str, counter: str) -> None:
    label, value = field.split("：")
    for space in (" ", "\u3000"):
        assert extract_metadata(f"<p>{field}{space}{counter}</p>") == {label: value}
    assert extract_metadata(f"<table><tr><td>{label}：</td><td>{value} {counter}</td></tr>"
                            "</table>") == {label: value}


def test_a_value_ending_in_a_counter_word_without_a_count_keeps_it() -> None:
    assert extract_metadata("<p>标题：2023年全民阅读量</p>") == {"标题": "2023年全民阅读量"}
    assert extract_metadata("<p>标题：关于提高点击率的通知</p>") == {"标题": "关于提高点击率的通知"}


def test_every_view_counter_noise_knows_ends_a_metadata_value() -> None:
    from monitor.extract.metadata import COUNTER_LABELS, STOP_LABELS
    from monitor.noise import _NOUNS

    assert set(_NOUNS.split("|")) <= {*COUNTER_LABELS, *STOP_LABELS}


def test_a_value_stored_with_its_counter_is_the_same_value() -> None:
    # A version an earlier release stored with the counter in 发布日期 is no change.
    from monitor.canon import canonical_parts

    old = canonical_parts("标题", "正文", {"发布日期": "2021-06-24 阅读次数：60911次"})
    assert old == canonical_parts("标题", "正文", {"发布日期": "2021-06-24"})
    assert old != canonical_parts("标题", "正文", {"发布日期": "2021-06-25"})
    colonless = canonical_parts("标题", "正文", {"发布机构": "某某厅阅读量 57"})
    assert colonless == canonical_parts("标题", "正文", {"发布机构": "某某厅"})


@pytest.mark.parametrize("number", [
    "武经信提案函［２０２１］１７号", "武经信提案函〔２０２１〕１７号", "武经信提案函[2021]17号",
    "武经信提案函（2021）17号", "武经信提案函(2021)17号", "武经信提案函【2021】１７号",
    "武经信提案函〔2021〕17号",
])
def test_a_bare_document_number_in_any_bracket_and_digit_width_is_the_wenhao(number: str) -> None:
    assert extract_metadata(f"<p>{number}</p>") == {"文号": number}
    assert extract(ARTICLE.format(line=number)).metadata == {"文号": number}
    table = f"<table><tr><td>文号</td><td>{number}</td></tr></table>"  # a bare 文号 cell
    assert extract_metadata(table) == {"文号": number}
