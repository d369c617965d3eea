"""HTML → title, text, metadata: the part of a page that is worth watching.

``extract`` repairs double-encoded UTF-8 (``monitor.mojibake``: "EspaÃ±ol" is read as
"Español"; correct Chinese is never touched), parses with lexbor, drops what is never
content (scripts, styles, hidden fields, comments, elements hidden with ``hidden`` or an
inline ``display:none`` unless they are inside what the ``content`` selectors chose, the
built-in widgets of ``monitor.noise`` and the source's ``ignore`` selectors), then takes
the text of the source's ``content`` selectors, or finds the article itself, or, on a
column page whose content is a list of dated links, the list (``monitor.extract.listing``).

Finding the article: every block of text scores by its length and its punctuation
(prose has commas, menus do not); a block's score goes to its container and, halved,
to the two containers above.  A container's total is scaled down by its share of link
text, by class/id names such as ``nav``/``footer``, and up by names such as ``content``
and by known CMS containers (``CMS_HINTS``: a boost, not a requirement).  Text in a
nav bar or a footer (``nav``/``footer`` tags, names such as ``nav``, ``menu``,
``footer``, ``copyright``) scores nothing, and a metadata field in a list
("<li>索引号：…</li>") scores what a table row of it does, so a re-templated page (a
grown nav, a new footer, its metadata table made a list) keeps its article.  Siblings of
the winner that score nearly as well and are not link lists join it (a proposal and
its replies in two boxes).  The counting is one walk of the text nodes in which each
element is entered once, by the first text under it, the sums handed up at the end
(``_collect``), not a walk up to the top from every text node.

Near the threshold, extracted as last time: a page with little prose (a short notice:
a heading, two sentences) is read whole (``_MIN_ARTICLE``: nav and footer lines
included), a page with more is read as its article.  One sentence added or removed
could flip the reading and tell the chrome lines (首页, 来源：…, 主办单位：…) as removed
or added paragraphs.  So when the best container's score is near the threshold
(``_NEAR``: between half and twice it) and the last version's text is known
(``previous``: the pipeline hands it over), the readings are made (the whole body, the
article, the best container itself: ``_climb`` may take a short article up to the body)
and the one whose lines are closest to the last text is kept (the fewest lines in one
and not the other; a tie keeps the threshold's choice).  Far from the threshold, or for
a first version, the threshold alone decides, so a page that becomes a real article (a
new layout, a long text) is read as its article.  The cost, a second rendering of a
short page, is paid only near the threshold.  A source with ``content`` selectors never
gets here, nor a page read as a list of dated links (its text is its items, chosen as
before).  Why not store the reading's mode with the version: the last text tells it
(a version stored by an earlier release too), and no schema changes.

Text layout is ``monitor.extract.layout``; the title is ``monitor.extract.title``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor import discover, lazyre, mojibake, noise
from monitor.errors import EmptyContentError, SelectorMatchedNothingError
from monitor.extract import files, listing
from monitor.extract.layout import BLOCK_TAGS, render
from monitor.extract.metadata import FIELD, extract_metadata
from monitor.extract.title import HEAD_TITLE_KEY, head_title_note, page_title, title_from_head
from monitor.normalize import normalize_line, normalize_with_notes, strip_ignored
from monitor.types import Extracted

# Blocks that hold a paragraph rather than an article.
_NOT_CONTAINERS = frozenset({"p", "li", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
                             "th", "caption", "figcaption", "legend", "summary", "address",
                             "blockquote", "pre", "html"})

CMS_HINTS = (
    "div.v_news_content", "#vsb_content", "#zoom", "#zoomcon", ".TRS_Editor",
    ".article-content", "#UCAP-CONTENT", ".pages_content", ".content", "#content",
    ".Article_content", "#ivs_content", ".zw", "#zw", ".wz_con", ".news_content",
    ".detail-content", ".art_con", ".bt-article", ".main-txt", "ucapcontent",
)
_GOOD_NAME = lazyre.compile(r"article|content|detail|zoom|news|text|txt|main|body|zhengwen|"
                            r"\bzw|wz|cont", re.IGNORECASE)
_BAD_NAME = lazyre.compile(r"nav|menu|foot|header|sidebar|side|aside|comment|share|crumb|"
                           r"copyright|bottom|banner|logo|friend|related|recommend|login|search|"
                           r"toolbar|advert|weizhi|position|location|pag(?:er|ination)|link",
                           re.IGNORECASE)
_PUNCT = lazyre.compile(r"[，。；：、！？,.;:!?]")
_MIN_PARAGRAPH = 10  # visible characters, not counting link text
_MIN_ARTICLE = 5.0  # below this the page has no prose: keep the whole body
_NEAR = 2.0  # a score within this factor of _MIN_ARTICLE reads as the last version did
_SIBLING_SHARE = 0.3
_HAND_UP = (1.0, 0.5, 0.25)  # share of a paragraph's score its containers get, upwards
_TABLE_PARTS = frozenset({"tr", "tbody", "thead", "tfoot", "table"})
_CLIMB_GAIN = 1.3
_WRAPPER_GAIN = 1.05
_CLIMB_LINKS = 0.2
_FIELD_MAX = 120  # a metadata field ("索引号：…") is shorter than this
_CHROME_TAGS = frozenset({"nav", "footer"})
_CHROME_NAME = lazyre.compile(r"\bnav|menu|footer|\bfoot\b|copyright|banner|crumb", re.IGNORECASE)


@dataclass(frozen=True)
class Parsed:
    """A page parsed once for the challenge checks and ``extract``: ``monitor.challenge``
    parses the body to judge it and hands its tree over (``challenge.Reading.take_tree``) with
    what ``extract`` reads before removing noise, then ``noise.drop_non_content`` done."""

    html: str  # what was parsed
    tree: LexborHTMLParser  # ALWAYS_DROP elements dropped; extract changes it further
    head_title: str
    base_href: str
    notes: tuple[str, ...]  # of drop_non_content


def prepared(html: str, tree: LexborHTMLParser) -> Parsed:
    """``tree``, the parse of ``html``, as ``extract`` reads it: its ``<title>`` and
    ``<base href>`` (read before noise removal drops ``<head>`` parts), then the
    elements that are never content dropped."""
    head_title, href = title_from_head(tree), discover.base_href(tree.root)
    notes = noise.drop_non_content(tree.root or tree.body)  # type: ignore[arg-type]
    return Parsed(html, tree, head_title, href, tuple(notes))


def extract(html: str, *, content: Sequence[str] = (), ignore: Sequence[str] = (),
            ignore_text: Sequence[str] = (), url: str = "", links: str | None = None,
            match: str | None = None, parsed: Parsed | None = None,
            column: bool = False, previous: str | None = None) -> Extracted:
    """Title, normalized text (``ignore_text`` patterns removed), metadata and notes of
    removed noise of one page; for a column page, the documents it lists (their links
    resolved against ``url``, the page's final URL; chosen by the ``links`` selector when
    given, else the items ``monitor.extract.listing`` recognised; kept if their URL contains
    ``match``).  ``parsed``: ``html`` parsed already (``Parsed``), used when it is the
    very text read here (no mojibake repaired) and no ``links`` selector must see the
    page before noise removal; the caller gives it up: ``extract`` changes its tree.
    ``column``: the page of a listing source, whose list may be of one or two items
    (without ``links``: the selector chooses its documents then).  ``previous``: the last
    version's text; near the article threshold the page is read as it was then (whole
    or its article: see the module docstring)."""
    if not html.strip():
        raise EmptyContentError("the page is empty")
    html, notes = mojibake.repair(html)
    if parsed is not None and (links or parsed.html != html):
        parsed = None
    tree = parsed.tree if parsed is not None else LexborHTMLParser(html)
    body = tree.body
    if body is None:
        raise EmptyContentError("the page has no body")
    pattern = re.compile(match) if match else None
    chosen, lines = None, []
    if parsed is None:
        head_title, href = title_from_head(tree), discover.base_href(tree.root)
        base = discover.resolve_base(href, url)
        # before noise removal, which may take a list for a link farm
        if links:
            chosen, lines = discover.selected(body, links, base, pattern)
        notes += noise.drop_non_content(tree.root or body)
    else:
        head_title, base = parsed.head_title, discover.resolve_base(parsed.base_href, url)
        notes += parsed.notes
    notes += _remove_ignored(body, ignore)
    matches = _select(body, content) if content else []
    texts: dict[int, str] = {}  # elements' text() read by noise removal, as they are now
    notes += noise.remove_dom_noise(body, _protected(matches), {m.mem_id for m in matches},
                                    texts)
    # with a ``links`` selector the documents are its links, the text their items' lines
    blocks, raw, listings = _content(body, matches, column and not links, texts, previous)
    if lines and not matches:
        raw = "\n".join(lines)
    text, text_notes = normalize_with_notes(raw, ignore_text)
    if not text:
        where = f"the content selector {', '.join(content)!r}" if content else "the page"
        raise EmptyContentError(f"{where} has no text")
    metadata = _metadata(body, ignore_text, texts)
    title = page_title(body, blocks, head_title, bool(listings)) or metadata.get("标题", "")
    if not listings and (note := head_title_note(head_title, title)):
        metadata[HEAD_TITLE_KEY] = note  # a <title> apart from the heading: watched too
    documents = chosen if chosen is not None else \
        discover.from_listings(listings, base, pattern) if listings and url else []
    return Extracted(title=title, text=text, metadata=metadata,
                     removed=tuple(dict.fromkeys(notes + text_notes)),
                     listing=bool(listings or lines), documents=tuple(documents),
                     item_selector=listing.selector_of(listings[0]) if listings else None,
                     attachments=files.find(blocks, body, base),
                     links=links if chosen is not None else None)


def _metadata(body: LexborNode, ignore_text: Sequence[str],
              texts: dict[int, str] | None = None) -> dict[str, str]:
    """The metadata fields, with what ``ignore_text`` removes from the text removed too."""
    found = extract_metadata(body, texts, dropped=True)  # by extract's drop_non_content
    if not ignore_text:
        return found
    cleaned = {key: strip_ignored(value, ignore_text) for key, value in found.items()}
    return {key: value for key, value in cleaned.items() if value}


# --- selection -------------------------------------------------------------------------


def _remove_ignored(body: LexborNode, ignore: Sequence[str]) -> list[str]:
    notes = []
    for selector in ignore:
        found = noise.outermost(_css(body, selector))
        for node in found:
            node.decompose()
        if found:
            notes.append(f"ignored {selector}: {len(found)} element(s)")
    return notes


def _select(body: LexborNode, content: Sequence[str]) -> list[LexborNode]:
    """All matches of the content selectors, outermost only, in document order."""
    found = {n.mem_id: n for selector in content for n in _css(body, selector)}
    if not found:
        raise SelectorMatchedNothingError(
            f"the content selector {', '.join(content)!r} matched nothing on the page")
    kept = noise.outermost(list(found.values()))
    if len(kept) == 1:  # the usual case: no walk of the whole page to order one match
        return kept
    order = {n.mem_id: i for i, n in enumerate(body.traverse())}
    return sorted(kept, key=lambda n: order.get(n.mem_id, 0))


def _css(body: LexborNode, selector: str) -> list[LexborNode]:
    try:
        return body.css(selector)
    except Exception as exc:  # lexbor's own error types vary by version
        raise SelectorMatchedNothingError(
            f"the selector {selector!r} cannot be used: {exc}") from exc


def _protected(matches: list[LexborNode]) -> set[int]:
    """The matches and their ancestors: no fuzzy noise rule may remove them."""
    return {n.mem_id for m in matches for n in (m, *noise.ancestors(m))}


def _content(body: LexborNode, matches: list[LexborNode], column: bool = False,
             texts: dict[int, str] | None = None, previous: str | None = None,
             ) -> tuple[list[LexborNode], str, list[listing.Listing]]:
    """The blocks that are the content, their raw text and, for a column page, its
    listings: the matches, a listing or the article (``texts``: ``layout.render``;
    ``previous``: the last version's text, see ``main_blocks``)."""
    if matches:
        return matches, "\n".join(render(b, texts) for b in matches), []
    article, others = _readings(body, previous is not None)
    listings = listing.choose(body, article, column)
    if listings:
        return [li.container for li in listings], listing.text_of(listings), listings
    if others and previous is not None:  # near the threshold: read as last time
        article = _closest([article, *others], previous, texts)
    return article, "\n".join(render(b, texts) for b in article), []


# --- finding the article ---------------------------------------------------------------


@dataclass
class _Stats:
    chars: int = 0  # visible characters in the subtree
    links: int = 0  # of which inside links
    score: float = 0.0  # paragraph scores handed up to this container
    total: float = 0.0  # paragraph scores of the whole subtree
    own: list[int] = field(default_factory=lambda: [0, 0, 0])  # chars, links, punct here


def main_blocks(body: LexborNode) -> list[LexborNode]:
    """The article container (and its strong siblings), or the body if there is none."""
    return _readings(body)[0]


def _readings(body: LexborNode, near_too: bool = False
              ) -> tuple[list[LexborNode], list[list[LexborNode]]]:
    """``main_blocks``, and with ``near_too``, when the best score is near the threshold,
    the other readings of the page (module docstring: the whole body, the article, the
    best container itself: ``_climb`` may take a short article up to the body)."""
    nodes, stats, tree = _collect(body)
    _hand_up(nodes, stats, tree)
    hinted = {n.mem_id for n in body.css(", ".join(CMS_HINTS))}
    scored = {key: _final(nodes[key], st, key in hinted) for key, st in stats.items()
              if nodes[key].tag not in _NOT_CONTAINERS and st.score > 0}
    if not scored:
        return [body], []
    best = max(scored, key=lambda k: scored[k])
    score = scored[best]
    near = near_too and _MIN_ARTICLE / _NEAR <= score < _MIN_ARTICLE * _NEAR
    if score < _MIN_ARTICLE and not near:
        return [body], []
    article = _with_siblings(nodes[_climb(nodes[best], stats)], scored, stats)
    if not near:
        return article, []
    chosen = article if score >= _MIN_ARTICLE else [body]
    return chosen, [[body], article, _with_siblings(nodes[best], scored, stats)]


def _closest(readings: list[list[LexborNode]], previous: str,
             texts: dict[int, str] | None) -> list[LexborNode]:
    """The first of the ``readings`` whose lines are closest to ``previous`` (the first
    is the threshold's choice: a tie keeps it)."""
    old = set(previous.splitlines())
    seen: dict[tuple[int, ...], int] = {}
    for blocks in readings:
        key = tuple(b.mem_id for b in blocks)
        if key not in seen:
            seen[key] = _apart(blocks, old, texts)
    best = min(seen, key=seen.__getitem__)  # the first of the closest: dicts keep order
    return next(r for r in readings if tuple(b.mem_id for b in r) == best)


def _apart(blocks: list[LexborNode], old: set[str], texts: dict[int, str] | None) -> int:
    """The lines in the text of ``blocks`` or in ``old``, not in both."""
    text, _ = normalize_with_notes("\n".join(render(b, texts) for b in blocks))
    return len(set(text.splitlines()) ^ old)


@dataclass
class _Tree:
    """The entered elements' parents (``_collect``), read without lexbor."""

    up: dict[int, int | None] = field(default_factory=dict)  # the parent's key, None at the top
    tags: dict[int, str | None] = field(default_factory=dict)


def _collect(body: LexborNode) -> tuple[dict[int, LexborNode], dict[int, _Stats], _Tree]:
    """Every element holding visible text (by ``mem_id``, in the order each was first
    met going up from the text nodes in document order) and its ``_Stats``: the
    characters of the text nodes in its subtree, those of them inside a link (an ``a``
    anywhere above the text node), and its own paragraph's (``own``: the text nodes
    whose nearest block it is).

    Each element is entered once, by the first text node under it: a text node's walk
    up stops at the first element entered already (all above it were entered with it),
    and what the walk learns (depth, inside a link, the nearest block) is kept per
    element.  A text node adds its characters to its parent only; the sums are handed
    up once at the end, deepest first.  (Adding them to every ancestor of every text
    node cost a walk to the top for each: most of this, on a page without a content
    selector.)"""
    nodes: dict[int, LexborNode] = {}
    stats: dict[int, _Stats] = {}
    tree = _Tree()
    up = tree.up
    depth: dict[int, int] = {}
    linked_at: dict[int, bool] = {}  # an ``a`` is this element or above it
    block_at: dict[int, int | None] = {}  # the nearest block: this element or above it
    # text nodes of ASCII whitespace only are skipped by lexbor: they hold no character
    for text_node in body.traverse(include_text=True, skip_empty=True):
        if text_node.tag != "-text":
            continue
        text = text_node.text_content or ""
        n = len("".join(text.split()))
        if not n:
            continue
        parent = text_node.parent
        key = parent.mem_id  # type: ignore[union-attr]
        if key not in stats:
            _enter(parent, nodes, stats, tree, depth, linked_at, block_at)
        linked = n if linked_at.get(key) else 0
        st = stats.get(key)
        if st is not None:
            st.chars += n
            st.links += linked
        owner = block_at.get(key)
        if owner is not None:
            own = stats[owner].own
            own[0], own[1] = own[0] + n, own[1] + linked
            own[2] += len(_PUNCT.findall(text))
    for key in sorted(depth, key=depth.__getitem__, reverse=True):
        above = up[key]
        if above is not None:
            st, st_up = stats[key], stats[above]
            st_up.chars += st.chars
            st_up.links += st.links
    return nodes, stats, tree


def _enter(node: LexborNode | None, nodes: dict[int, LexborNode], stats: dict[int, _Stats],
           tree: _Tree, depth: dict[int, int], linked_at: dict[int, bool],
           block_at: dict[int, int | None]) -> None:
    """Enter ``node`` and its ancestors up to the first entered one (``_collect``)."""
    new: list[tuple[int, LexborNode, str | None]] = []
    while node is not None and node.mem_id not in stats:
        tag = node.tag
        if tag == "-document":
            break
        new.append((node.mem_id, node, tag))
        node = node.parent
    top = node.mem_id if node is not None and node.mem_id in stats else None
    for key, element, tag in new:  # bottom-up, as a walk up from the text node meets them
        nodes[key] = element
        stats[key] = _Stats()
        tree.tags[key] = tag
    level = depth[top] if top is not None else 0
    linked = linked_at[top] if top is not None else False
    block = block_at[top] if top is not None else None
    above = top
    for key, _, tag in reversed(new):  # top-down: what is above is known
        level += 1
        linked = linked or tag == "a"
        if tag in BLOCK_TAGS:
            block = key
        tree.up[key], depth[key], linked_at[key], block_at[key] = above, level, linked, block
        above = key


def _hand_up(nodes: dict[int, LexborNode], stats: dict[int, _Stats], tree: _Tree) -> None:
    """Each block's points to it and its containers (``_HAND_UP``), up the parents
    ``_collect`` entered: every element above an entered one (the document aside) is."""
    up, tags = tree.up, tree.tags
    for key, st in list(stats.items()):
        chars, links, punct = st.own
        prose = chars - links
        if prose <= 0:
            continue
        points = _points(nodes[key], prose, punct)
        if not points:
            continue
        at: int | None = key
        level = 0
        while at is not None:
            st_up = stats[at]
            st_up.total += points
            if level < len(_HAND_UP):
                st_up.score += points * _HAND_UP[level]
            at = up[at]
            # Table plumbing is one level: a table's cells all count for the table.
            if at is not None and tags[at] not in _TABLE_PARTS:
                level += 1


def _points(node: LexborNode, prose: int, punct: int) -> float:
    """What a block of ``prose`` characters is worth as evidence of the article."""
    if node.tag in ("td", "th"):
        # A figure in a data table is content however short it is, but a cell is
        # worth much less than a paragraph, or a metadata table would outweigh a
        # short reply.
        return 0.25 + min(prose / 40, 5)
    if prose < _MIN_PARAGRAPH or _in_chrome(node):
        return 0.0
    if prose <= _FIELD_MAX and FIELD.match(normalize_line(node.text())):
        # "索引号：…" in a list is worth what the two cells of a table row are: a
        # re-templated metadata block must not move the article.
        return 0.5 + min(prose / 40, 5)
    return 1 + punct + min(prose / 40, 5)


def _in_chrome(node: LexborNode) -> bool:
    """Inside a nav bar, a header or a footer: text there is never evidence of the
    article, so a grown nav or a new footer does not move it."""
    for a in (node, *noise.ancestors(node)):
        if a.tag in _CHROME_TAGS:
            return True
        name = f"{a.attributes.get('class') or ''} {a.attributes.get('id') or ''}"
        if _CHROME_NAME.search(name):
            return True
    return False


def _final(node: LexborNode, st: _Stats, hinted: bool) -> float:
    link_density = st.links / st.chars if st.chars else 1.0
    name = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}"
    factor = 1.0
    if _GOOD_NAME.search(name):
        factor *= 1.25
    if _BAD_NAME.search(name):
        factor *= 0.5
    if hinted:
        factor *= 1.5
    return st.score * (1 - link_density) * factor


def _climb(node: LexborNode, stats: dict[int, _Stats]) -> int:
    """Go up while the containers above hold much more of the same, and few links.

    A statistics page is a dozen small tables in one box; each table scores alone, the
    box is what a reader calls the content.  An article's wrapper adds only a title
    and a byline (less than ``_CLIMB_GAIN``), so the article stays.  Wrappers that add
    nothing are passed through.
    """
    chosen, current = node, node.parent
    while current is not None and current.tag != "html" and current.mem_id in stats:
        up, here = stats[current.mem_id], stats[chosen.mem_id]
        if up.links > _CLIMB_LINKS * up.chars:
            break
        if up.total >= _CLIMB_GAIN * here.total:
            chosen = current
        elif up.total > _WRAPPER_GAIN * here.total:
            break
        current = current.parent
    return chosen.mem_id


def _with_siblings(best: LexborNode, scored: dict[int, float],
                   stats: dict[int, _Stats]) -> list[LexborNode]:
    parent = best.parent
    if parent is None:
        return [best]
    keep = []
    # _climb may have gone up to a wrapper that scored nothing of its own
    own = scored.get(best.mem_id) or _final(best, stats[best.mem_id], False)
    for sibling in parent.iter():
        key = sibling.mem_id
        if key == best.mem_id:
            keep.append(sibling)
        elif key in scored and scored[key] >= _SIBLING_SHARE * own:
            st = stats[key]
            if st.links < 0.25 * st.chars:
                keep.append(sibling)
    return keep
