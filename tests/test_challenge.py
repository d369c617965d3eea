"""detect_challenge: block, challenge, error and broken pages are not the page.

The snapshot-quality records (tests/fixtures/corpus/peers/wmp-snapshot-quality, from
web-monitoring-processing) are named ``<server>-<expected quality>/<version>.json``:
1.0 is a genuine capture (200 or a real 404), anything lower a block, challenge or edge
error.  The records keep status, headers, title and size but not the body, except the
two ERDDAP ``.body`` files; for the others the test serves a stand-in body with the
recorded title and size, so only what the record knows decides.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from monitor.challenge import detect_challenge, detect_soft_404
from tests.pages import seed, seed_page

FIXTURES = Path(__file__).parent / "fixtures" / "corpus"
QUALITY = FIXTURES / "peers" / "wmp-snapshot-quality"
CN_GOV = FIXTURES / "cn-gov"
HTML = {"content-type": "text/html; charset=utf-8"}


def _records() -> list[tuple[str, float, dict[str, object], str]]:
    out = []
    for path in sorted(QUALITY.glob("*/*.json")):
        quality = float(path.parent.name.rsplit("-", 1)[1])
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        out.append((f"{path.parent.name}/{path.stem[:8]}", quality, data, _body(path, data)))
    return out


def _body(path: Path, data: dict[str, object]) -> str:
    stored = path.with_suffix(".body")
    if stored.exists():
        raw = stored.read_bytes()
        return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    size = int(data["content_length"] or 0)  # type: ignore[call-overload]
    if not size:
        return ""
    head = f"<html><head><title>{data['title']}</title></head><body><p>"
    filler = ("recorded body not kept " * (size // 20 + 1))[: max(size - len(head) - 20, 0)]
    return f"{head}{filler}</p></body></html>"


RECORDS = _records()


def test_the_set_has_both_kinds() -> None:
    assert sum(q < 1.0 for _, q, _, _ in RECORDS) >= 20
    assert sum(q == 1.0 for _, q, _, _ in RECORDS) >= 10


@pytest.mark.parametrize(("name", "quality", "data", "body"), RECORDS, ids=[r[0] for r in RECORDS])
def test_snapshot_quality_records(name: str, quality: float, data: dict[str, object],
                                  body: str) -> None:
    reason = detect_challenge(body, status=int(data["status"]),  # type: ignore[call-overload]
                              headers=data["headers"])  # type: ignore[arg-type]
    if quality < 1.0:
        assert reason, f"{name} is a block page"
    else:
        assert reason is None, f"{name} is a real page: {reason}"


def test_erddap_error_body_is_recognised_without_its_headers() -> None:
    body = (QUALITY / "erddap-0.0" / "d5c25818-b39d-4928-8d8f-8011fba84f95.body").read_text()
    assert "ERDDAP" in (detect_challenge(body, status=200, headers={}) or "")


@pytest.mark.parametrize(("title", "word"), [
    ("Just a moment...", "Cloudflare"), ("Attention Required! | Cloudflare", "Cloudflare"),
    ("ERROR: The request could not be satisfied", "CloudFront"),
    ("Human Verification", "AWS WAF"), ("网站防火墙", "安全狗"),
])
def test_block_page_titles_are_recognised_whatever_the_status(title: str, word: str) -> None:
    body = f"<html><head><title>{title}</title></head><body>{'x ' * 3000}</body></html>"
    assert word in (detect_challenge(body, status=200, headers=HTML) or "")


BLOCK_BODIES = {
    "cloudflare": ('<!DOCTYPE html><html><head><title>请稍候…</title></head><body><noscript>Enable '
                   'JavaScript and cookies to continue</noscript><script>(function(){window.'
                   '_cf_chl_opt={cvId:"3",cZone:"www.example.gov.cn"};}());</script></body></html>'),
    "akamai": ("<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n"
               "You don't have permission to access "
               "\"http&#58;&#47;&#47;www&#46;cdc&#46;gov&#47;\" on this server.<P>\n"
               "Reference&#32;&#35;18&#46;57c90b17&#46;1775931942&#46;5b4183e6"
               "\n<P>https&#58;&#47;&#47;errors&#46;edgesuite&#46;net&#47;18&#46;57c90b17</P>\n"
               "</BODY>\n</HTML>\n"),
    "nginx 502": ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                  "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
                  "</body>\r\n</html>"),
    "加速乐": ("<html><body><script>document.cookie=('_')+('_')+('j')+('s')+('l')+('_')+('c')+('l')"
            "+('e')+('a')+('r')+('a')+('n')+('c')+('e')+('_')+('s')+('=')+('1732');"
            "var __jsl_clearance='1732.183|0|abc';location.href=location.pathname+location.search"
            "</script></body></html>"),
    "瑞数": ('<html><head><meta content="{qe6xVGgtaCNb}" r="m"><script type="text/javascript" '
           'r="m">$_ts=window[\'$_ts\'];if(!$_ts)$_ts={};$_ts.nsd=24316;$_ts.cd="qtaWrrAlDGGw";'
           '</script><script src="/4QbVtADbnLVIc/c.FxJzG50F.dfe1675.js" r="m"></script></head>'
           "<body></body></html>"),
    "安全狗": ("<html><head><title>网站防火墙</title></head><body><div>您的请求带有不合法参数，"
            "已被网站管理员设置拦截！</div><div>可能原因：您提交的内容包含危险的攻击请求</div>"
            '<a href="http://www.safedog.cn/">网站安全狗</a></body></html>'),
    "云锁": ('<html><body><script>var yunsuo_session_verify="8a2e";function security_verify_data()'
           '{}</script><p>正在验证您的访问，请稍候……</p></body></html>'),
    "阿里云": ("<html><body><p>很抱歉，由于您访问的URL有可能对网站造成安全威胁，"
            "您的访问被阻断。</p><p>您的请求ID是: 0bc3c1a016</p></body></html>"),
    "empty": "",
    "blank": " \r\n\t ",
    "no text": "<html><head><title>首页</title></head><body><div id='app'></div></body></html>",
}


EXPECTED_REASON = {"cloudflare": "Cloudflare", "akamai": "Akamai", "nginx 502": "nginx",
                   "加速乐": "加速乐", "瑞数": "瑞数", "安全狗": "安全狗", "云锁": "云锁",
                   "阿里云": "阿里云", "empty": "empty", "blank": "empty", "no text": "empty"}


@pytest.mark.parametrize("kind", BLOCK_BODIES)
def test_known_block_pages_are_recognised(kind: str) -> None:
    reason = detect_challenge(BLOCK_BODIES[kind], status=200, headers=HTML)
    assert reason and EXPECTED_REASON[kind] in reason


def test_the_beijing_antibot_redirect_is_recognised() -> None:
    body = (CN_GOV / "bjjs-zjw-beijing__antibot-redirect-gbk__20190524.html").read_bytes()
    reason = detect_challenge(body.decode("gb18030"), status=200, headers={})
    assert reason and "redirect" in reason


@pytest.mark.parametrize("day", ["20200326", "20200327"])
def test_the_beijing_broken_renders_are_unrendered_templates(day: str) -> None:
    body = (CN_GOV / f"bjjs-zjw-beijing__fwjy-stats__{day}.html").read_text(encoding="utf-8")
    reason = detect_challenge(body, status=200, headers=HTML)
    assert reason and "$pageHelpBean" in reason


def test_a_small_page_with_template_placeholders_is_unrendered() -> None:
    body = ("<html><body><h1>${article.title}</h1><p>发布时间：$!{article.pubDate}</p>"
            "<div>{{ content }}</div><div>{{ source }}</div><div>{{ hits }}</div></body></html>")
    assert "unrendered" in (detect_challenge(body, status=200, headers=HTML) or "")


REAL_PAGES = sorted(p.name for p in CN_GOV.glob("*.html")
                    if "antibot" not in p.name and "20200326" not in p.name
                    and "20200327" not in p.name)


@pytest.mark.parametrize("name", REAL_PAGES)
def test_real_government_pages_are_not_flagged(name: str) -> None:
    raw = (CN_GOV / name).read_bytes()
    codec = "gb18030" if "gb2312" in name else "utf-8"
    assert detect_challenge(raw.decode(codec), status=200, headers=HTML) is None
    assert detect_soft_404(raw.decode(codec)) is None


@pytest.mark.parametrize("n", range(4))
@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_seed_pages_are_not_flagged(n: int, encoding: str) -> None:
    body = seed_page(n, encoding=encoding).decode("gb18030" if encoding == "gbk" else "utf-8")
    assert detect_challenge(body, status=200, headers=HTML) is None
    assert detect_soft_404(body) is None


def test_an_article_that_talks_about_wafs_is_still_the_page() -> None:
    extra = ("各单位要部署网站防火墙（如安全狗、云锁、创宇盾），防范请求被拦截、访问被拒绝等问题；"
             "Cloudflare 的 Just a moment... 页面和 errors.edgesuite.net 也应纳入监测。")
    body = seed_page(3, edit=lambda ps: [*ps, extra]).decode("utf-8")
    assert detect_challenge(body, status=200, headers=HTML) is None


def test_origin_404_is_left_to_the_fetch_stage() -> None:
    body = "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"
    headers = {"server": "awselb/2.0", "content-type": "text/html"}
    assert detect_challenge(body * 3, status=404, headers=headers) is None


def _small(title: str, body: str) -> str:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>"


CAPTCHA_PAGES = {  # home-made anti-bot pages of small government CMSs, with status 200
    "rate-limit captcha": _small("访问验证", "<p>您的访问过于频繁，请完成下方验证后继续访问</p>"
                                 "<div class='captcha'><img src='/captcha.jpg'>"
                                 "<input name='code' placeholder='请输入验证码'>"
                                 "<a href='#'>看不清，换一张</a><button>提交</button></div>"),
    "title with the site's name": _small("安全验证 - 某某市人民政府",
                                         "<p>请向右拖动滑块完成验证</p><div id='slider'></div>"),
    "captcha title only": _small("验证码", "<form><img src='/code.jpg'><input name='v'>"
                                        "<button>确定</button></form>"),
    "prompt under a plain title": _small("提示", "<h3>请求过于频繁</h3><p>请输入图中的字符：</p>"
                                              "<img src='/vc.jpg'><input name='vc'>"),
}


@pytest.mark.parametrize("case", CAPTCHA_PAGES)
def test_home_made_captcha_pages_are_not_the_page(case: str) -> None:
    reason = detect_challenge(CAPTCHA_PAGES[case], status=200, headers=HTML)
    assert reason and "anti-bot" in reason


SOFT_404 = {  # "page not found" pages of government CMSs, with status 200
    "404 页面不存在": _small("404 页面不存在", "<h2>抱歉，您访问的页面不存在或已被删除！</h2>"
                          "<a href='/'>返回首页</a>"),
    "页面不存在": _small("页面不存在_某某市人民政府", "<p>5秒后自动返回首页</p>"
                    "<script>setTimeout(function(){location.href='/'},5000)</script>"),
    "页面未找到": _small("页面未找到",
                    "<p>请检查您输入的网址是否正确。</p><a href='/'>返回首页</a>"),
    "您访问的页面不存在或已被删除": _small("您访问的页面不存在或已被删除",
                                "<a href='/'>返回首页</a>"),
    "该信息已删除": _small("该信息已删除", "<a href='javascript:history.back()'>返回</a>"),
    "信息不存在或已撤销": _small("信息不存在或已撤销！", "<a href='/'>返回首页</a>"),
    "404 Not Found": _small("404 Not Found", "<h1>Not Found</h1><p>The requested URL was not "
                                             "found on this server.</p>"),
    "said under a plain title": _small("提示信息", "<p>该信息已删除</p><a href='/'>返回首页</a>"),
}


@pytest.mark.parametrize("case", SOFT_404)
def test_not_found_pages_served_with_200_are_soft_404s(case: str) -> None:
    assert detect_soft_404(SOFT_404[case])


def test_a_not_found_page_in_the_sites_template_is_a_soft_404() -> None:
    # The whole chrome (nav, side column, metadata, footer) around one sentence.
    page = seed_page(0, edit=lambda ps: ["抱歉，您访问的页面不存在或已被删除！"])
    body = page.decode("utf-8").replace(seed(0).title, "页面不存在")
    assert detect_soft_404(body) == "title 页面不存在_湖南省工业和信息化厅"
    # the same chrome with the article's own title is the page, whatever its text says
    assert detect_soft_404(page.decode("utf-8")) is None


PROSE = ("群众反映办事平台访问过于频繁时需输入验证码，部分栏目页面不存在或信息已被删除，"
         "打开时提示“404 错误”或“您访问的页面不存在”；请各单位完善访问验证流程，"
         "登录时请输入验证码并完成下方验证，及时修复页面未找到的问题。")


def test_an_article_that_mentions_captchas_and_missing_pages_is_still_the_page() -> None:
    body = seed_page(0, edit=lambda ps: [*ps, PROSE]).decode("utf-8")
    assert detect_challenge(body, status=200, headers=HTML) is None
    assert detect_soft_404(body) is None


def _notice(title: str) -> str:
    """A short notice: under 600 visible characters and 4 KB, more than a message and a box."""
    return _small(f"{title}_某某市人民政府", (
        f"<h1>{title}</h1><p>发布时间：2026-11-20 来源：市政务服务中心</p><p>{PROSE}</p>"
        "<p>自2026年12月1日起，个人用户登录政务服务网时，除输入账号密码外，还须通过短信验证码"
        "完成身份核验；企业用户可继续使用电子营业执照扫码登录。如遇页面长时间无响应，"
        "请清除浏览器缓存后重试，或拨打12345政务服务便民热线咨询。</p>"))


@pytest.mark.parametrize("title", ["关于政务服务网登录验证方式调整的通知",
                                   "404名干部参加网络安全培训",
                                   "关于部分页面不存在问题的整改情况", "验证码短信服务升级公告"])
def test_a_short_notice_about_captchas_and_missing_pages_is_still_the_page(title: str) -> None:
    body = _notice(title)
    assert len(body.encode()) < 4096  # a short page, as block pages are
    assert detect_challenge(body, status=200, headers=HTML) is None
    assert detect_soft_404(body) is None
