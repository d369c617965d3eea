"""Is this body the page, or something served instead of it?

``detect_challenge`` returns a short reason when the body is a WAF block, an anti-bot
challenge, a CDN or load-balancer error page, a rate-limit answer, an unrendered
template or (nearly) nothing at all; ``None`` when it looks like the page.  Such a body
must never become a version: the next good fetch would then be reported as a change.

The checks, most specific first:

* headers that only blocks carry (``cf-mitigated: challenge``, ``x-amzn-waf-action``,
  ``rimon: RWC_BLOCK``) and HTTP 429;
* a short error answer from an edge server itself (AWS ELB, AkamaiGHost, Akamai
  edgesuite's ``server-timing`` without an origin hop, CloudFront ``x-cache: Error``);
  a 404 is the origin's answer and is left to the fetch stage;
* signatures of block pages in the body (Cloudflare, Akamai, CloudFront, AWS WAF,
  nginx/openresty/Tengine defaults, ERDDAP errors, Chinese WAFs: 安全狗, 云锁, 知道创宇
  加速乐/创宇盾, 360网站卫士, 瑞数, 阿里云盾, 腾讯云, 百度云加速, 长亭 SafeLine), which count only
  on a short page, as an article may quote them;
* a generic Chinese anti-bot page of no known vendor: a title that is only 访问验证,
  安全验证, 验证码, 访问过于频繁... on a short page, or a prompt (请输入验证码, 请完成下方验证,
  您的访问过于频繁...) on a tiny page (under 200 visible characters), as an article or a
  short notice may talk about captchas in its prose;
* a short page whose script only redirects (the Beijing ``adfwkey`` anti-bot page);
* Velocity/JSP/mustache placeholders left in the visible text or links, unless the page
  has real content that outweighs them (below);
* a body with almost no visible text (under 20 characters), unless it is a short notice
  whose substance is elsewhere: a title of its own (6 characters or more before a
  site-name suffix) and a link to a file (``.pdf``, ``.ofd``, ``.doc``...: ``详见附件。
  附件：办理结果.ofd``) or a metadata word (文号, 索引号, 发布机构...).  A challenge or a
  blank page has neither; one with a title such as 访问验证 was refused above already.

Placeholders are weighed, not just found: a real page may carry one leftover
``$pageHelpBean.getColumnNavPath(...)`` in its breadcrumb, or one ``${x}`` in an article,
for ever, and refusing it would cost every check of that page.  With a ``content``
selector only what it selects counts (placeholders in the chrome around it are not the
page's business); without one, the placeholders of the whole page are set against its
prose (visible text outside links: a nav bar is no substance, however long).  The page
is taken when that text, without the placeholders, has at least ``_SUBSTANCE``
characters and ``_PER_PLACEHOLDER`` more for each placeholder: the Beijing statistics
page with a leftover breadcrumb (2,400 characters, one placeholder) is a page, the
Beijing broken renders (a long nav of links, 70 and 159 characters of footer prose, 7
and 17 placeholders) are not.

``accept_challenge_like`` (a source's setting, for the rare false positive) keeps only
what the answer's status and headers say (``cf-mitigated``, ``x-amzn-waf-action``, 429,
an edge server's error page): everything judged from the body is skipped.

``detect_soft_404`` returns a reason when the body says the page does not exist: the
"page not found" page many Chinese government CMSs answer with HTTP 200 (页面不存在,
您访问的页面不存在或已被删除, 该信息已删除, 信息不存在或已撤销, 404...).  That is not a
challenge but the page being gone, and the pipeline counts it like a 404.  It counts
when the title is only such a phrase (before a site-name suffix) and the page is short
or its text says so too, or when a tiny page says so; an article that mentions a 404
or 页面不存在 in its text is left alone.

The page is parsed once for both questions (``read`` gives a ``Reading``), and that
parse is handed on to extraction (``Reading.take_tree`` gives ``monitor.extract.extract``
the tree, once: extraction changes it, so it is never read here again nor handed twice).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor import lazyre, noise
from monitor.extract import files, listing
from monitor.extract.html import Parsed, prepared

_SHORT_BYTES = 4096  # block and error pages are small; real pages carry a site's chrome
_SHORT_TEXT = 600  # visible characters
_TINY_TEXT = _SHORT_TEXT // 3  # a page that is only a message and a box or two
_EMPTY_TEXT = 20
_SCAN = 200_000  # characters of the body searched for signatures
_SUBSTANCE = _TINY_TEXT  # visible characters of content that make a page with placeholders
_PER_PLACEHOLDER = 100  # ... and this many more for each placeholder left on it


class _Visible:
    """The body's visible text as lexbor gives it (``raw``), and without its whitespace
    (``text``) only when a check reads it.

    Every page is asked how long that text is (short, tiny, near-empty) and whether it
    holds a template placeholder; for a long page of prose (a changed check's page)
    neither needs it whole: the length is counted over the start of ``raw`` only until
    it is long enough (``fewer_than``: the characters that are not whitespace, chunk by
    chunk, the same count as the whole text's length), and a text without ``$``, ``<``
    or ``{`` holds no placeholder with its whitespace or without (``unmarked``: each one
    starts with ``$``, ``<%`` or ``{{``).  Building the text (``str.split`` and a join of
    ~20 K characters) was ~8% of the checks' reading of a bench page.  One per
    ``Reading``, shared by the copies of its ``_Page`` (``Reading.challenge``)."""

    __slots__ = ("_text", "raw")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self._text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "".join(self.raw.split())
        return self._text

    def fewer_than(self, n: int) -> bool:
        """``len(self.text) < n``, from as little of ``raw`` as it takes."""
        if self._text is not None:
            return len(self._text) < n
        seen, raw = 0, self.raw
        for start in range(0, len(raw), _COUNT_CHUNK):
            if seen >= n:
                return False
            seen += sum(map(len, raw[start:start + _COUNT_CHUNK].split()))
        return seen < n

    @property
    def unmarked(self) -> bool:
        """No ``$``, ``<`` or ``{``: no placeholder in the text (``_placeholder``)."""
        raw = self.raw
        return "$" not in raw and "<" not in raw and "{" not in raw


_COUNT_CHUNK = 2048  # characters of raw text counted at a time (``_Visible.fewer_than``)


@dataclass(frozen=True)
class _Page:
    title: str
    visible: _Visible  # the visible text (``text``: whitespace removed)
    links: str  # href/src values, space-separated
    status: int
    headers: dict[str, str]  # lower-case names
    html: str = ""
    content: tuple[str, ...] = ()  # the source's content selectors

    # Only a short page is searched for signatures: a long one never needs these.
    @cached_property
    def lower(self) -> str:
        """The start of the body, lower-cased."""
        return self.html[:_SCAN].lower()

    @cached_property
    def size(self) -> int:
        """Bytes (UTF-8): never fewer than the characters."""
        return len(self.html.encode("utf-8", "replace"))

    @property
    def text(self) -> str:
        """The visible text, whitespace removed."""
        return self.visible.text

    @property
    def short(self) -> bool:
        return self.visible.fewer_than(_SHORT_TEXT) or (
            len(self.html) < _SHORT_BYTES and self.size < _SHORT_BYTES)

    @property
    def tiny(self) -> bool:
        return self.visible.fewer_than(_TINY_TEXT)

    @property
    def title_head(self) -> str:
        """The title before a site-name suffix ("页面不存在_某某市人民政府")."""
        return _TITLE_SUFFIX.split(self.title, maxsplit=1)[0].strip()


class Reading:
    """One body parsed once for both questions (``soft_404``, ``challenge``), and the
    tree that parse made, for ``monitor.extract.extract`` (``take_tree``): handed over
    once, as extraction changes it, and never read here after it was made."""

    def __init__(self, html: str) -> None:
        self.html = html
        self._page, self._tree = _parse(html)
        self._lock = threading.Lock()

    def challenge(self, *, status: int, headers: Mapping[str, str],
                  content: Sequence[str] = (),
                  accept_challenge_like: bool = False) -> str | None:
        """A reason why the body is not the page, or ``None`` (``detect_challenge``)."""
        page = replace(self._page, status=status, content=tuple(content),
                       headers={k.lower(): v for k, v in headers.items()})
        for check in _ANSWER_CHECKS if accept_challenge_like else _CHECKS:
            if reason := check(page):
                return reason
        return None

    def soft_404(self) -> str | None:
        """A reason when the body says the page does not exist (``detect_soft_404``)."""
        page = self._page
        if _NOT_FOUND_TITLE.fullmatch(page.title_head) and (
                page.short or _NOT_FOUND.search(page.text)):
            return f"title {page.title}"
        if page.tiny and (found := _NOT_FOUND.search(page.text)):
            return f"text {found.group()}"
        return None

    def take_tree(self) -> Parsed | None:
        """The parse for ``extract``, to the first who asks; ``None`` after (or when the
        body has no document to give)."""
        with self._lock:
            tree, self._tree = self._tree, None
        return tree


def read(html: str) -> Reading:
    """The reading of ``html``: the last body's again when it is the same (the fetcher's
    ``fetch = "auto"`` asks ``detect_challenge`` of a body the pipeline then reads; its
    parse, the whole page's links and visible text, was most of the checks' cost).  One
    entry, replaced whole, so threads share it safely; its tree still goes to one."""
    global _last
    last = _last
    if last is not None and last.html == html:
        return last
    _last = reading = Reading(html)
    return reading


_last: Reading | None = None


def detect_challenge(html: str, *, status: int, headers: Mapping[str, str],
                     content: Sequence[str] = (),
                     accept_challenge_like: bool = False) -> str | None:
    """A reason why ``html`` is not the page, or ``None`` if it looks like the page.

    ``content``: the source's content selectors (placeholders are judged within them);
    ``accept_challenge_like``: only the status and headers can refuse the body."""
    return read(html).challenge(status=status, headers=headers, content=content,
                                accept_challenge_like=accept_challenge_like)


def detect_soft_404(html: str) -> str | None:
    """A reason when ``html`` says the page does not exist (a soft 404), or ``None``.

    For answers with a success status: the pipeline takes such a page as gone."""
    return read(html).soft_404()


def _parse(html: str) -> tuple[_Page, Parsed | None]:
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node is not None else ""
    links = " ".join(v for n in tree.css("[href], [src]")
                     for v in (n.attributes.get("href"), n.attributes.get("src")) if v)
    # what extract reads of the page before dropping these, and the drop, done once
    ready = prepared(html, tree) if tree.root is not None else None
    body = tree.body
    visible = _Visible(body.text() if body is not None else "")
    page = _Page(title=title, visible=visible, links=links, status=200, headers={}, html=html)
    return page, ready  # the tree is offered once it is no longer read here


# --- headers and status ----------------------------------------------------------------


def _block_headers(page: _Page) -> str | None:
    h = page.headers
    if h.get("cf-mitigated", "").lower() == "challenge":
        return "Cloudflare challenge (cf-mitigated: challenge)"
    if (action := h.get("x-amzn-waf-action", "").lower()) in ("challenge", "captcha"):
        return f"AWS WAF {action} (x-amzn-waf-action)"
    if "block" in h.get("rimon", "").lower():
        return f"web filter block (rimon: {h['rimon']})"
    if page.status == 429:
        return "rate limited (HTTP 429 Too Many Requests)"
    return None


def _edge_error(page: _Page) -> str | None:
    h, status = page.headers, page.status
    server = h.get("server", "").lower()
    if status < 400 or status in (404, 410):
        return None
    if server.startswith("awselb/") and page.short:
        return f"AWS load balancer error page (HTTP {status})"
    if server == "akamaighost" and page.short:
        return f"Akamai edge error page (HTTP {status})"
    if server == "cloudfront" and "error" in h.get("x-cache", "").lower():
        return f"CloudFront error page (HTTP {status})"
    timing = h.get("server-timing", "")
    if not server and page.short and "ak_p" in timing and "origin" not in timing:
        return f"Akamai edge block, the origin was never asked (HTTP {status})"
    if h.get("content-description", "").lower() == "dods-error":
        return f"ERDDAP/OPeNDAP error response (HTTP {status})"
    return None


# --- body signatures -------------------------------------------------------------------

_SIGNATURES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (reason, lazyre.compile(pattern)) for reason, pattern in (
        ("Cloudflare challenge page", r"<title>\s*just a moment\.\.\.|cf_chl_opt|cf-chl-|"
                                      r"_cf_chl|checking your browser before accessing"),
        ("Cloudflare block page", r"attention required! \| cloudflare|cf-error-details|"
                                  r"cloudflare ray id"),
        ("Akamai access denied page", r"errors\.edgesuite\.net|reference&#32;&#35;|"
                                      r"access denied.{0,400}reference #"),
        ("CloudFront error page", r"the request could not be satisfied|"
                                  r"generated by cloudfront"),
        ("AWS WAF challenge page", r"awswafintegration|aws-waf-token|<title>\s*human verification"),
        ("default error page of nginx/openresty/Tengine",
         r"<center>\s*(?:nginx|openresty|tengine)|powered by tengine"),
        ("ERDDAP error response", r"^\s*error\s*\{\s*code\s*=\s*\d+\s*;"),
        ("Federal Register access-request page", r"unblock\.federalregister\.gov|"
                                                 r"federal register :: request access"),
        ("DNS filter block page", r"zyxel security cloud|dns filter service portal"),
        ("安全狗 WAF block page", r"safedog|已被网站管理员设置拦截|<title>\s*网站防火墙"),
        ("云锁 WAF page", r"yunsuo|security_verify_"),
        ("知道创宇 加速乐/创宇盾 challenge", r"__jsl_clearance|jsl_clearance_s|创宇盾|365cyd|"
                                    r"knownsec"),
        ("360 网站卫士 challenge", r"wzwschallenge|wzwsquestion|wzws-waf|360wzb"),
        ("瑞数 anti-bot challenge", r"\$_ts\s*=\s*window|\$_ts\["),
        ("阿里云盾 WAF page", r"aliyun_waf|acw_sc__v2|errors\.aliyun\.com|您的访问被阻断"),
        ("腾讯云 WAF page", r"waf\.tencent-cloud|t-sec web"),
        ("百度云加速 page", r"yunjiasu"),
        ("长亭雷池 WAF page", r"safeline"),  # not 雷池: "不越雷池一步" is an idiom
        ("anti-bot verification page", r"人机验证|请完成安全验证|滑动验证|访问被拒绝|"
                                       r"请求被拦截|疑似黑客攻击|可能对网站造成安全威胁"),
        ("anti-bot JavaScript redirect", r"adfwkey="),
    )
)
_ERROR_TITLE = lazyre.compile(
    r"^(?:(?:403|429|500|502|503|504)\b|access denied$|forbidden$|bad gateway$|"
    r"service (?:temporarily )?unavailable$|gateway time-?out$|too many requests$)",
    re.IGNORECASE,
)
_TITLE_SUFFIX = lazyre.compile(r"\s+[-|—–·]\s*|\s*[_|—–]\s*")  # before a site name

# Generic Chinese anti-bot pages, of no vendor: a title that is only a verification word
# (on a short page), a prompt to pass a captcha or slow down (on a tiny page).
_ANTIBOT_TITLE = lazyre.compile(
    r"(?:访问|安全|人机|滑动|图形|拼图)?验证(?:码)?|请?输入验证码|请?完成(?:安全|人机)?验证|"
    r"(?:访问|请求|操作)(?:过于|太|过度)?频繁(?:[,，]?请稍后(?:再试|访问))?",
)
_ANTIBOT_PROMPT = lazyre.compile(
    r"(?:访问|请求|操作)(?:过于|太|过度)频繁|访问频率过(?:快|高)|访问验证|安全验证|"
    r"请输入(?:图中的?|下方的?)?(?:验证码|字符)|"
    r"请(?:先)?完成(?:下方|下面|以下|如下)?的?(?:安全|人机|滑块)?验证|"
    r"(?:完成|通过)验证后(?:再|方可|才能|即可)?(?:继续)?访问|看不清[，,]?换一张|"
    r"(?:拖动|滑动)(?:下方|左侧)?(?:的)?滑块|向右(?:拖动|滑动)|点击(?:按钮)?(?:开始|进行)验证",
)

# "Page not found" pages answered with HTTP 200 (soft 404s).
_THING = r"(?:页面|网页|文章|信息|内容|稿件|文档|链接|网址|资源)"
_GONE = (r"(?:不存在|未找到|找不到|无法找到|没有找到|已(?:经)?(?:被)?(?:删除|撤销|撤回|撤稿|撤下|"
         r"下线|下架|移除|失效|过期))")
_NOT_FOUND = lazyre.compile(
    rf"(?:(?:您|你)(?:所|要|所要)?(?:访问|查看|浏览|请求|查找|打开)的|该|此|当前)?"
    rf"{_THING}(?:可能)?{_GONE}(?:或(?:者)?(?:已(?:经)?)?(?:被)?(?:删除|撤销|撤回|撤下|下线|移除|过期|"
    rf"失效|迁移|更名|不存在))?"
    r"|(?<!\d)404\s*(?:not\s*found|error|错误)|page\s*not\s*found",  # in text without spaces
    re.IGNORECASE,
)
_NOT_FOUND_TITLE = lazyre.compile(
    rf"(?:(?:错误|error)?\s*404\s*(?:错误|error|not\s*found|页面|[:：!！])?\s*)?"
    rf"(?:(?:抱歉|对不起|很抱歉)[，,！!]?\s*)?(?:{_NOT_FOUND.pattern})[!！。.]*"
    r"|(?:错误|error)?\s*404\s*(?:错误|error|not\s*found|页面)?|(?:page|file)?\s*not\s*found",
    re.IGNORECASE,
)

_REDIRECT = lazyre.compile(r"\blocation(?:\.href)?\s*=[^=]|\blocation\.(?:replace|assign)\s*\(|"
                           r"http-equiv=[\"']?refresh")


# Titles no real page has; they count whatever the page's size.
_TITLES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (reason, lazyre.compile(pattern, re.IGNORECASE)) for reason, pattern in (
        ("Cloudflare challenge page", r"^just a moment\.\.\.$"),
        ("Cloudflare block page", r"attention required! \| cloudflare"),
        ("CloudFront error page", r"^error: the request could not be satisfied$"),
        ("AWS WAF challenge page", r"^human verification$"),
        ("Federal Register access-request page", r"^federal register :: request access$"),
        ("DNS filter block page", r"zyxel security cloud|dns filter service portal"),
        ("安全狗 WAF block page", r"^网站防火墙$"),
    )
)


def _signature(page: _Page) -> str | None:
    for reason, pattern in _TITLES:
        if pattern.search(page.title):
            return f"{reason} ({page.title})"
    if not page.short:
        return None
    for reason, pattern in _SIGNATURES:
        if pattern.search(page.lower):
            return reason
    if _ERROR_TITLE.search(page.title) and page.status not in (404, 410):
        return f"error page: {page.title}"
    if _ANTIBOT_TITLE.fullmatch(page.title_head):
        return f"anti-bot verification page ({page.title})"
    if page.tiny and (found := _ANTIBOT_PROMPT.search(page.text)):
        return f"anti-bot verification page ({found.group()})"
    return None


def _redirect_only(page: _Page) -> str | None:
    if page.visible.fewer_than(_SHORT_TEXT // 3) and _REDIRECT.search(page.lower):
        return "a page that only redirects with JavaScript or a meta refresh"
    return None


# --- unrendered and empty --------------------------------------------------------------

_PLACEHOLDER = lazyre.compile(
    r"\$!?\{?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\([^)]{0,80}\))?"  # Velocity $a.b(...)
    r"|\$\{[A-Za-z_][\w.]*\}"  # ${a.b}
    r"|<%=?[^%]{0,80}%>"  # JSP/ASP
)
_MUSTACHE = lazyre.compile(r"\{\{\s*[A-Za-z_][\w.]*\s*\}\}")


def _unrendered(page: _Page) -> str | None:
    # none on the page, none in a part; a text without "$", "<" or "{" holds none
    if _placeholder("" if page.visible.unmarked else page.text, page.links) is None:
        return None
    selected = _selected(page)
    text, links = selected or (page.text, page.links)
    sample = _placeholder(text, links)
    if sample is None:
        return None
    count = (len(_PLACEHOLDER.findall(text)) + len(_PLACEHOLDER.findall(links))
             + len(_MUSTACHE.findall(text)))
    main = text if selected else _main_text(page.html)
    real = len(_MUSTACHE.sub("", _PLACEHOLDER.sub("", main)))
    if real >= max(_SUBSTANCE, _PER_PLACEHOLDER * count):
        return None  # real content outweighs the placeholders (see the module's doc)
    return f"unrendered template placeholders ({sample[:60]})"


def _placeholder(text: str, links: str) -> str | None:
    """One placeholder in the text (or three in links, or three ``{{x}}``), for the
    reason; None when there are none."""
    # every placeholder starts with "$" or "<%": a text without either has none
    found = _PLACEHOLDER.search(text) if "$" in text or "<%" in text else None
    in_links = _PLACEHOLDER.findall(links)
    if found or len(in_links) >= 3:
        return found.group() if found else in_links[0]
    if len(_MUSTACHE.findall(text)) >= 3:
        return "{{...}}"
    return None


def _selected(page: _Page) -> tuple[str, str] | None:
    """Visible text and links of what the content selectors select; None without
    selectors or when they select nothing (extraction then says so)."""
    if not page.content:
        return None
    tree = LexborHTMLParser(page.html)
    if tree.root is None:
        return None
    noise.drop_non_content(tree.root)
    nodes: list[LexborNode] = []
    for selector in page.content:
        try:
            nodes += tree.css(selector)
        except (ValueError, SyntaxError):  # refused by config validation already
            continue
    nodes = noise.outermost(nodes)
    if not nodes:
        return None
    text = "".join("".join(n.text().split()) for n in nodes)
    links = " ".join(v for n in nodes for m in n.css("[href], [src]")
                     for v in (m.attributes.get("href"), m.attributes.get("src")) if v)
    return text, links


def _main_text(html: str) -> str:
    """The page's prose: visible text outside links (a nav bar or a link farm is not
    substance, however long), whitespace removed."""
    tree = LexborHTMLParser(html)
    if tree.root is None or tree.body is None:
        return ""
    noise.drop_non_content(tree.root)
    return listing.prose(tree.body, skip=set())


_VISIBLE = lazyre.compile(r"\S")


def _empty(page: _Page) -> str | None:
    # the start of the body is blank as it is lower-cased (a letter's lower case is no
    # space): searched for its first character, not lower-cased and stripped whole
    if _VISIBLE.search(page.html, 0, _SCAN) is None:
        return "empty body"
    if page.visible.fewer_than(_EMPTY_TEXT) and not _notice(page):
        return f"near-empty body ({len(page.text)} visible characters)"
    return None


_MIN_TITLE = 6  # characters of a title before a site-name suffix: a notice's, not "首页"
_METADATA = lazyre.compile(r"文号|索引号|发文机关|发布机构|成文日期|发布日期")


def _notice(page: _Page) -> bool:
    """A short notice whose substance is elsewhere: a real title, and a link to a file
    (``详见附件。附件：办理结果.ofd``) or a metadata table (文号, 索引号...)."""
    if len("".join(page.title_head.split())) < _MIN_TITLE:
        return False
    if _METADATA.search(page.text):
        return True
    return any(files.format_by_name(link) != "bin" for link in page.links.split())


_CHECKS: tuple[Callable[[_Page], str | None], ...] = (
    _block_headers, _edge_error, _signature, _redirect_only, _unrendered, _empty,
)
# What the answer itself says (status and headers): kept by accept_challenge_like.
_ANSWER_CHECKS = (_block_headers, _edge_error)
