"""OFD (GB/T 33190) → paragraphs, with the standard library and defusedxml.

An OFD file is a ZIP of XML: ``OFD.xml`` → each ``DocBody``'s ``DocRoot``
(``Document.xml``) → ``Pages/Page@BaseLoc`` in the document's page order → each page's
``Content.xml``, whose ``TextObject``s hold ``TextCode`` runs.  A run's position is its
``X``/``Y`` inside the object's ``Boundary``; every character after the first moves by
``DeltaX``/``DeltaY`` (``g N v`` means N times v), so one run may span several lines and
one line may be made of many runs; a run without ``X``/``Y`` goes on where the one
before it ended, and an object's ``CTM`` (a scale, as some converters write 16 pt text
as Size 16 scaled by 0.3528) is applied before the Boundary's offset.  A page's
template (``TemplatePage``: the printed labels of a form) is read with the page.

Characters are placed, grouped into lines by their baseline (within half a character),
ordered by X inside a line (a gap wider than half a character becomes a space) and the
lines by Y; ``monitor.extract.lines`` then joins wrapped lines into paragraphs.

Limits: the ZIP goes through ``monitor.extract.archive`` (member count, total size, a
size cap per XML member), XML is parsed with defusedxml (no DTD entities: no entity
expansion bombs, no external entities), and at most ``MAX_GLYPHS`` characters are read.
"""

from __future__ import annotations

import itertools
import posixpath
import zipfile
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from monitor.errors import DocumentUnreadableError
from monitor.extract.archive import open_zip, read_member
from monitor.extract.lines import Line, paragraphs

MAX_XML = 20_000_000
MAX_GLYPHS = 2_000_000


@dataclass(frozen=True)
class _Glyph:
    x: float
    y: float  # baseline, growing downwards
    char: str
    size: float
    width: float


def extract_ofd(body: bytes) -> tuple[list[str], str, int]:
    """(paragraphs, DocInfo title, page count) of an OFD; raises DocumentUnreadableError."""
    zf = open_zip(body, "OFD 文件")
    root = _xml(zf, "OFD.xml")
    pages: list[list[Line]] = []
    title = ""
    for body_el in _children(root, "DocBody"):
        title = title or _text(_child(body_el, "DocInfo"), "Title")
        doc_root = _text(body_el, "DocRoot")
        if doc_root:
            pages += _document_pages(zf, _resolve("", doc_root))
    if not pages:
        raise DocumentUnreadableError("文件损坏，未提取文本（OFD 中没有页面）")
    return paragraphs(pages), title, len(pages)


def _document_pages(zf: zipfile.ZipFile, path: str) -> list[list[Line]]:
    document = _xml(zf, path)
    base = posixpath.dirname(path)
    templates = {el.get("ID"): _resolve(base, el.get("BaseLoc", ""))
                 for el in document.iter() if _local(el) == "TemplatePage"}
    budget = [MAX_GLYPHS]
    pages = []
    for page in _children(_child(document, "Pages"), "Page"):
        page_path = _resolve(base, page.get("BaseLoc", ""))
        content = _xml(zf, page_path)
        glyphs = _glyphs(content, budget)
        for ref in (el for el in content if _local(el) == "Template"):
            if ref.get("TemplateID") in templates:
                glyphs += _glyphs(_xml(zf, templates[ref.get("TemplateID")]), budget)
        pages.append(_lines(glyphs))
    return pages


def _glyphs(content: Element, budget: list[int]) -> list[_Glyph]:
    out: list[_Glyph] = []
    for obj in (el for el in content.iter() if _local(el) == "TextObject"):
        box = [*_floats(obj.get("Boundary", "")), 0.0, 0.0][:2]
        ctm = ([*_floats(obj.get("CTM", "")), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0][:6]
               if obj.get("CTM") else [1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
        size = _float(obj.get("Size"), 3.5)
        cursor = (0.0, 0.0)
        for code in (el for el in obj if _local(el) == "TextCode"):
            # A TextCode without X or Y goes on where the previous one ended.
            start = (_float(code.get("X"), cursor[0]), _float(code.get("Y"), cursor[1]))
            run, cursor = _run(code, start, size)
            out += [_placed(g, box, ctm) for g in run]
    budget[0] -= len(out)
    if budget[0] < 0:
        raise DocumentUnreadableError(f"文本过长，未提取文本（超过 {MAX_GLYPHS} 个字符）")
    return out


def _placed(glyph: _Glyph, box: list[float], ctm: list[float]) -> _Glyph:
    """A glyph in page coordinates: the object's CTM, then its Boundary's origin."""
    a, b, c, d, e, f = ctm
    scale = abs(a * d - b * c) ** 0.5 or 1.0
    return _Glyph(box[0] + a * glyph.x + c * glyph.y + e, box[1] + b * glyph.x + d * glyph.y + f,
                  glyph.char, glyph.size * scale, glyph.width * scale)


def _run(code: Element, start: tuple[float, float], size: float
         ) -> tuple[list[_Glyph], tuple[float, float]]:
    text = code.text or ""
    dx, dy = _deltas(code.get("DeltaX")), _deltas(code.get("DeltaY"))
    x, y = start
    out = []
    for i, char in enumerate(text):
        step_x = dx[i] if i < len(dx) else _advance(char, size)
        step_y = dy[i] if i < len(dy) else 0.0
        # The step to the next character is this one's width, unless the run wraps there.
        width = step_x if step_x > 0 and not step_y else _advance(char, size)
        out.append(_Glyph(x, y, char, size, width))
        x, y = x + step_x, y + step_y
    return out, (x, y)


def _lines(glyphs: list[_Glyph]) -> list[Line]:
    rows: list[list[_Glyph]] = []
    for glyph in sorted(glyphs, key=lambda g: (g.y, g.x)):
        if rows and abs(glyph.y - rows[-1][0].y) <= rows[-1][0].size / 2:
            rows[-1].append(glyph)
        else:
            rows.append([glyph])
    return [_line(sorted(row, key=lambda g: g.x)) for row in rows]


def _line(row: list[_Glyph]) -> Line:
    parts = [row[0].char]
    for prev, glyph in itertools.pairwise(row):
        if glyph.x - (prev.x + prev.width) > glyph.size / 2 and not prev.char.isspace():
            parts.append(" ")
        parts.append(glyph.char)
    size = max(g.size for g in row)
    return Line("".join(parts), row[0].x, max(g.x + g.width for g in row),
                row[0].y - size, size)


def _advance(char: str, size: float) -> float:
    return size / 2 if char.isascii() else size


def _deltas(spec: str | None) -> list[float]:
    values: list[float] = []
    tokens = (spec or "").split()
    i = 0
    while i < len(tokens):
        if tokens[i] == "g" and i + 2 < len(tokens):
            values += [_float(tokens[i + 2], 0.0)] * int(_float(tokens[i + 1], 0.0))
            i += 3
        else:
            values.append(_float(tokens[i], 0.0))
            i += 1
    return values


def _xml(zf: zipfile.ZipFile, path: str) -> Element:
    data = read_member(zf, path, MAX_XML)
    try:
        return SafeET.fromstring(data)
    except defusedxml.DefusedXmlException as exc:
        raise DocumentUnreadableError(
            f"文件不安全，未提取文本（OFD 的 {path} 含 XML 实体定义：{exc}）") from exc
    except ParseError as exc:
        raise DocumentUnreadableError(f"文件损坏，未提取文本（OFD 的 {path}：{exc}）") from exc


def _resolve(base: str, loc: str) -> str:
    """A path inside the package: absolute (``/Doc_0/…``) or relative to ``base``."""
    path = posixpath.normpath(loc.lstrip("/") if loc.startswith("/")
                              else posixpath.join(base, loc))
    if path.startswith("..") or not loc:
        raise DocumentUnreadableError(f"文件损坏，未提取文本（OFD 路径无效：{loc!r}）")
    return path


def _local(el: Element) -> str:
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


def _children(el: Element | None, name: str) -> list[Element]:
    return [c for c in el if _local(c) == name] if el is not None else []


def _child(el: Element | None, name: str) -> Element | None:
    found = _children(el, name)
    return found[0] if found else None


def _text(el: Element | None, name: str) -> str:
    child = _child(el, name)
    return (child.text or "").strip() if child is not None else ""


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _floats(value: str) -> list[float]:
    return [_float(v, 0.0) for v in value.split()]
