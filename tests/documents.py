"""Documents generated for the extraction tests and ``bench.bench_pdf``: PDFs set in
reportlab's built-in ``STSong-Light`` CID font, DOCX, XLSX and OFD files, and damaged or
unreadable ones.  Each generator takes the paragraphs it lays out, so a test asserts
against exactly what was written.
"""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

REPLY_TITLE = "关于省政协十三届二次会议第0192号提案的答复"
REPLY = [
    REPLY_TITLE,
    "湘工信提案函〔2026〕17号",
    "张委员：",
    "您提出的《关于加快发展人工智能产业的提案》收悉。经认真研究，现答复如下：",
    "一、总体情况。2025年，全省人工智能核心产业规模达到68.1亿元，同比增长23.5%，带动相关"
    "产业规模超过500亿元。我们将继续加大政策支持力度，推动算力基础设施建设，完善数据要素"
    "市场，培育一批具有核心竞争力的骨干企业。",
    "二、关于算力建设。全省已建成智能算力中心3个，总算力达到1,200PFlops（每秒千万亿次浮点"
    "运算），“十四五”期间累计投入财政资金4.6亿元；下一步将统筹布局，避免重复建设。",
    "三、关于人才引进。2025年共引进高层次人才312名，其中博士187名；对符合条件的团队给予"
    "最高500万元资助。",
]
REPLY_PAGE2 = [
    "四、下一步工作。我们将认真吸纳您的意见建议，会同省发展改革委、省科技厅等部门，"
    "加快出台《人工智能产业高质量发展三年行动计划（2026—2028年）》，力争到2028年核心产业"
    "规模突破150亿元。",
    "感谢您对我省人工智能产业发展工作的关心和支持！",
    "湖南省工业和信息化厅",
    "2026年5月20日",
]
REPLY_TABLE = [["指标", "2024年", "2025年", "增长"],
               ["核心产业规模（亿元）", "55.3", "68.1", "23.1%"],
               ["骨干企业（家）", "41", "57", "39.0%"]]


def reply_text() -> list[str]:
    """The paragraphs a reader sees in ``reply_pdf()``: a table row is a line whose cells
    are separated by a space (none between two CJK characters, as normalized)."""
    from monitor.normalize import normalize_line

    table = [normalize_line(" ".join(row)) for row in REPLY_TABLE]
    return [*REPLY, *table, *REPLY_PAGE2]


# --- PDF ---------------------------------------------------------------------------------

def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def _page_number(canvas, doc) -> None:  # type: ignore[no-untyped-def]
    canvas.setFont(_font(), 11)
    canvas.drawCentredString(297, 40, f"— {doc.page} —")


def pdf(pages: list[list[str]], *, table: list[list[str]] | None = None,
        title: str = "", encrypt: str | None = None) -> bytes:
    """A PDF in official-document style: centred title, indented paragraphs, a table
    after the first page's paragraphs, page numbers at the foot of every page."""
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table

    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=14, leading=26,
                          firstLineIndent=28, wordWrap="CJK", spaceAfter=4)
    head = ParagraphStyle("head", parent=body, fontSize=18, leading=30, firstLineIndent=0,
                          alignment=TA_CENTER, spaceAfter=14)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=title, encrypt=encrypt,
                            leftMargin=80, rightMargin=80)
    story: list[object] = []
    for n, paras in enumerate(pages):
        if n:
            story.append(PageBreak())
        for i, text in enumerate(paras):
            story.append(Paragraph(escape(text), head if n == i == 0 else body))
        if n == 0 and table:
            story.append(Table(table, style=[("FONTNAME", (0, 0), (-1, -1), font),
                                             ("FONTSIZE", (0, 0), (-1, -1), 12)]))
    doc.build(story, onFirstPage=_page_number, onLaterPages=_page_number)
    return out.getvalue()


def reply_pdf(**kw: object) -> bytes:
    return pdf([REPLY, REPLY_PAGE2], table=REPLY_TABLE, **kw)  # type: ignore[arg-type]


def scanned_pdf() -> bytes:
    """A page that is a picture of text (a scan): no text layer at all."""
    from PIL import Image, ImageDraw
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = Image.new("L", (400, 100), 255)
    ImageDraw.Draw(image).rectangle((20, 30, 380, 60), fill=0)
    out = io.BytesIO()
    c = canvas.Canvas(out)
    c.drawImage(ImageReader(image), 72, 600, width=400, height=100)
    c.showPage()
    c.save()
    return out.getvalue()


def unmapped_pdf(glyphs: int = 40) -> bytes:
    """A PDF whose font is ``Identity-H`` without a ToUnicode table: the usual way a
    converted document loses its text.  Readers see glyphs; text tools get glyph ids."""
    codes = "".join(f"{0x0100 + i:04X}" for i in range(glyphs))
    stream = f"BT /F1 14 Tf 72 760 Td <{codes}> Tj 0 -24 Td <{codes}> Tj ET".encode()
    return _pdf_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+SimSun /Encoding /Identity-H "
        b"/DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ABCDEF+SimSun /CIDSystemInfo "
        b"<< /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 7 0 R "
        b"/DW 1000 >>",
        b"<< /Type /FontDescriptor /FontName /ABCDEF+SimSun /Flags 4 "
        b"/FontBBox [0 -141 1000 859] /ItalicAngle 0 /Ascent 859 /Descent -141 "
        b"/CapHeight 859 /StemV 80 >>",
    ])


def _pdf_objects(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n"
            "%%EOF\n").encode()
    return bytes(out)


# --- DOCX, XLSX ----------------------------------------------------------------------------

def docx(paragraphs: list[str], *, table: list[list[str]] | None = None,
         after: list[str] = (), title: str = "") -> bytes:  # type: ignore[assignment]
    import docx as python_docx

    document = python_docx.Document()
    document.core_properties.title = title
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    for text in after:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx(sheets: dict[str, list[list[object]]], title: str = "") -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    book.properties.title = title
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- OFD -----------------------------------------------------------------------------------

_NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'


def ofd(pages: list[list[str]], *, title: str = "", chars_per_line: int = 28,
        page_order: list[int] | None = None, extra: dict[str, bytes] | None = None,
        scaled: bool = False) -> bytes:
    """An OFD document as a government typesetter writes one: A4 pages, 16 pt (5.6 mm)
    characters, paragraphs indented by two characters and wrapped every
    ``chars_per_line`` characters, each line a TextObject of its own, written to the
    page in reverse order (reading order must come from positions, not file order).
    ``page_order`` lists the page files in the order Document.xml gives them.
    ``scaled``: as some converters write it, 16-unit text under a CTM of 0.35, each line
    in two TextCodes, the second without X/Y (it goes on where the first ended)."""
    files: dict[str, bytes] = {}
    for n, paras in enumerate(pages):
        files[f"Doc_0/Pages/Page_{n}/Content.xml"] = _ofd_page(paras, chars_per_line, scaled)
    order = page_order if page_order is not None else list(range(len(pages)))
    refs = "".join(f'<ofd:Page ID="{10 + n}" BaseLoc="Pages/Page_{n}/Content.xml"/>'
                   for n in order)
    files["Doc_0/Document.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document {_NS}><ofd:CommonData>'
        '<ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>'
        f'</ofd:CommonData><ofd:Pages>{refs}</ofd:Pages></ofd:Document>').encode()
    files["OFD.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD {_NS} Version="1.1" DocType="OFD">'
        f'<ofd:DocBody><ofd:DocInfo><ofd:DocID>d1</ofd:DocID><ofd:Title>{escape(title)}'
        '</ofd:Title></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>'
        '</ofd:DocBody></ofd:OFD>').encode()
    files.update(extra or {})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def _ofd_page(paras: list[str], per_line: int, scaled: bool) -> bytes:
    size, left, y = 5.6, 26.0, 37.0
    objects = []
    for text in paras:
        first = True
        while text:
            indent = 2 if first else 0
            part, text = text[:per_line - indent], text[per_line - indent:]
            box = f'Boundary="{left + indent * size} {y:.2f} 160 7"'
            objects.append(_ofd_object(len(objects) + 100, box, part, size, scaled))
            y += 9.0
            first = False
    layer = "".join(reversed(objects))
    return (f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page {_NS}><ofd:Content>'
            f'<ofd:Layer ID="2">{layer}</ofd:Layer></ofd:Content></ofd:Page>').encode()


def _ofd_object(oid: int, box: str, text: str, size: float, scaled: bool) -> str:
    if not scaled:
        deltas = " ".join(str(size) for _ in text[1:])
        return (f'<ofd:TextObject ID="{oid}" {box} Font="3" Size="{size}"><ofd:TextCode '
                f'X="0" Y="{size}" DeltaX="{deltas}">{escape(text)}</ofd:TextCode>'
                '</ofd:TextObject>')
    unit, half = 16, len(text) // 2 or 1
    head, tail = text[:half], text[half:]
    codes = f'<ofd:TextCode X="0" Y="{unit}" DeltaX="g {len(head) - 1} {unit}">' \
        f'{escape(head)}</ofd:TextCode>'
    if tail:
        codes += f'<ofd:TextCode DeltaX="g {len(tail) - 1} {unit}">{escape(tail)}</ofd:TextCode>'
    return (f'<ofd:TextObject ID="{oid}" {box} CTM="{size / unit} 0 0 {size / unit} 0 0" '
            f'Font="3" Size="{unit}">{codes}</ofd:TextObject>')
