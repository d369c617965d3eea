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

from monitor.challenge import detect_challenge
from tests.pages import seed_page

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


@pytest.mark.parametrize("n", range(4))
@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_seed_pages_are_not_flagged(n: int, encoding: str) -> None:
    body = seed_page(n, encoding=encoding).decode("gb18030" if encoding == "gbk" else "utf-8")
    assert detect_challenge(body, status=200, headers=HTML) is None


def test_an_article_that_talks_about_wafs_is_still_the_page() -> None:
    extra = ("各单位要部署网站防火墙（如安全狗、云锁、创宇盾），防范请求被拦截、访问被拒绝等问题；"
             "Cloudflare 的 Just a moment... 页面和 errors.edgesuite.net 也应纳入监测。")
    body = seed_page(3, edit=lambda ps: [*ps, extra]).decode("utf-8")
    assert detect_challenge(body, status=200, headers=HTML) is None


def test_origin_404_is_left_to_the_fetch_stage() -> None:
    body = "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"
    headers = {"server": "awselb/2.0", "content-type": "text/html"}
    assert detect_challenge(body * 3, status=404, headers=headers) is None


HOME_MADE = {  # what small government CMSs serve instead of the page, with status 200
    "rate-limit captcha": ("访问验证", "<p>您的访问过于频繁，请完成下方验证后继续访问</p>"
                           "<div class='captcha'><img src='/captcha.jpg'>"
                           "<input name='code' placeholder='请输入验证码'></div>"),
    "soft 404": ("404 页面不存在", "<h2>抱歉，您访问的页面不存在或已被删除！</h2>"
                 "<a href='/'>返回首页</a>"),
    "deleted notice": ("提示信息", "<p>该信息已删除</p><a href='/'>返回首页</a>"),
}


@pytest.mark.parametrize("case", HOME_MADE)
def test_home_made_captcha_and_not_found_pages_are_not_the_page(case: str) -> None:
    title, body = HOME_MADE[case]
    html = f"<html><head><title>{title}</title></head><body>{body}</body></html>"
    assert detect_challenge(html, status=200, headers=HTML) is not None


def test_an_article_that_mentions_captchas_and_missing_pages_is_still_the_page() -> None:
    extra = ("群众反映办事平台访问过于频繁时需输入验证码，部分栏目页面不存在或信息已被删除，"
             "请各单位完善访问验证流程并及时修复页面未找到的问题。")
    body = seed_page(0, edit=lambda ps: [*ps, extra]).decode("utf-8")
    assert detect_challenge(body, status=200, headers=HTML) is None
