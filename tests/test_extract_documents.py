"""Text of attachments and documents: sniffing and one extractor per format.

Every file is real: PDFs set by reportlab in the STSong-Light CID font, DOCX by
python-docx, XLSX by openpyxl, OFD written as a ZIP of XML here and the ofdrw samples
in tests/fixtures/corpus/attachments, .doc converted by LibreOffice itself.  Assertions
are on the text a reader reads: exact sentences, numbers, paragraph order.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from monitor.extract import extract_document, sniff
from monitor.extract.lines import Line, paragraphs
from monitor.extract.office import soffice
from monitor.types import DocumentText
from tests import documents as docs
from tests.conftest import service_missing

SAMPLES = Path(__file__).parent / "fixtures" / "corpus" / "attachments"


def lines(doc: DocumentText) -> list[str]:
    assert doc.status == "ok", doc.reason
    return doc.text.split("\n")


# --- PDF ---------------------------------------------------------------------------------

def test_pdf_reply_reads_as_its_paragraphs_in_order() -> None:
    doc = extract_document(docs.reply_pdf(title="关于第0192号提案的答复"), "pdf")
    assert lines(doc) == docs.reply_text()
    assert "全省人工智能核心产业规模达到68.1亿元，同比增长23.5%，带动相关产业规模超过500亿元。" \
        in doc.text
    assert "核心产业规模（亿元） 55.3 68.1 23.1%" in lines(doc)  # a table row stays a row
    assert "—" not in doc.text.replace("2026—2028", "")  # page numbers are not content
    assert (doc.fmt, doc.title, doc.pages, doc.reason) == ("pdf", "关于第0192号提案的答复", 2, "")


def test_pdf_without_a_metadata_title_is_titled_by_its_first_line() -> None:
    doc = extract_document(docs.reply_pdf(), "pdf")  # reportlab writes "untitled"
    assert doc.title == docs.REPLY_TITLE


def test_pdf_rewrapped_with_other_margins_gives_the_same_text() -> None:
    """What makes a re-typeset reply a non-change: paragraphs, not wrapped lines."""
    narrow = docs.pdf([docs.REPLY, docs.REPLY_PAGE2], table=docs.REPLY_TABLE)
    wide = _pdf_with_margins(40)
    assert extract_document(narrow, "pdf").text == extract_document(wide, "pdf").text


def _pdf_with_margins(margin: int) -> bytes:
    from reportlab.platypus import SimpleDocTemplate

    original = SimpleDocTemplate.__init__

    def init(self, *a, **kw):  # type: ignore[no-untyped-def]
        original(self, *a, **{**kw, "leftMargin": margin, "rightMargin": margin})

    SimpleDocTemplate.__init__ = init  # type: ignore[method-assign]
    try:
        return docs.pdf([docs.REPLY, docs.REPLY_PAGE2], table=docs.REPLY_TABLE)
    finally:
        SimpleDocTemplate.__init__ = original  # type: ignore[method-assign]


def test_a_wide_table_row_does_not_move_the_margins_paragraphs_are_joined_by() -> None:
    def line(text: str, x0: float, x1: float, top: float) -> Line:
        return Line(text, x0, x1, top, 14.0)

    page = [line("一、总体情况。全省人工智能核心产业", 128, 500, 100),
            line("规模达到68.1亿元，同比增长23.5%，带动", 100, 500, 126),
            line("相关产业规模超过500亿元。", 100, 300, 152),
            line("核心产业规模（亿元） 55.3 68.1 23.1%", 60, 560, 178),
            line("二、关于算力建设。全省已建成智能算力", 128, 500, 204),
            line("中心3个。", 100, 170, 230)]
    assert paragraphs([page]) == [
        "一、总体情况。全省人工智能核心产业规模达到68.1亿元，同比增长23.5%，带动相关产业规模超过500亿元。",
        "核心产业规模（亿元） 55.3 68.1 23.1%", "二、关于算力建设。全省已建成智能算力中心3个。"]


def test_pdf_font_without_unicode_mapping_is_not_extractable_never_text() -> None:
    doc = extract_document(docs.unmapped_pdf(), "pdf")
    assert doc.status == "not_extractable"
    assert doc.reason.startswith("文本无法提取（字体无 Unicode 映射")
    assert doc.text == ""


def test_pdf_scan_without_text_layer_is_not_extractable() -> None:
    doc = extract_document(docs.scanned_pdf(), "pdf")
    assert (doc.status, doc.text, doc.pages) == ("not_extractable", "", 1)
    assert doc.reason.startswith("文本无法提取（无文本层")


def test_truncated_pdf_is_not_extracted_with_a_reason() -> None:
    body = docs.reply_pdf()
    doc = extract_document(body[: len(body) // 2], "pdf")
    assert (doc.status, doc.text) == ("not_extracted", "")
    assert doc.reason.startswith("文件损坏，未提取文本（PDF 无法打开")


def test_encrypted_pdf_is_not_extracted_and_says_it_needs_a_password() -> None:
    doc = extract_document(docs.reply_pdf(encrypt="secret"), "pdf")
    assert doc.status == "not_extracted"
    assert doc.reason.startswith("文件已加密，未提取文本（PDF 需要密码")


def test_pdf_protected_only_against_editing_is_read() -> None:
    from reportlab.lib.pdfencrypt import StandardEncryption

    body = docs.reply_pdf(encrypt=StandardEncryption("", ownerPassword="owner", canModify=0))
    assert lines(extract_document(body, "pdf")) == docs.reply_text()


# --- OFD ---------------------------------------------------------------------------------

def test_ofd_reply_reads_in_page_then_position_order() -> None:
    body = docs.ofd([docs.REPLY, docs.REPLY_PAGE2], title="关于第0192号提案的答复")
    doc = extract_document(body, "ofd")
    assert lines(doc) == docs.REPLY + docs.REPLY_PAGE2  # lines were written bottom-up
    assert (doc.title, doc.pages) == ("关于第0192号提案的答复", 2)


# 53 characters: after the two-character indent, lines of 26 and 27 at 28 a line, the last
# one ending at the margin, so only the next paragraph's indent says where it ends.
FULL_LINES = ("五、保障措施。建立健全工作机制，加强部门协同配合，"
              "强化资金保障和要素支撑，确保各项任务落到实处、取得实效！")


def test_ofd_scaled_text_and_runs_that_go_on_read_the_same() -> None:
    paras = [*docs.REPLY, FULL_LINES, *docs.REPLY_PAGE2]
    plain = extract_document(docs.ofd([paras]), "ofd")
    scaled = extract_document(docs.ofd([paras], scaled=True), "ofd")
    assert lines(scaled) == lines(plain) == paras


def test_ofd_follows_the_documents_page_order_not_file_names() -> None:
    body = docs.ofd([docs.REPLY_PAGE2, docs.REPLY], page_order=[1, 0])
    assert lines(extract_document(body, "ofd")) == docs.REPLY + docs.REPLY_PAGE2


def test_ofd_samples_from_ofdrw() -> None:
    keyword = extract_document((SAMPLES / "keyword2.ofd").read_bytes(), "ofd")
    assert lines(keyword) == ["你好呀，OFD Reader&Writer！", "重庆市马上融资担保有限公司"] * 2
    assert keyword.pages == 2
    chinese_dir = extract_document((SAMPLES / "chineseDir.ofd").read_bytes(), "ofd")
    assert lines(chinese_dir) == ["你好呀，OFD Reader&Writer！"]


def test_ofd_invoice_reads_labels_of_its_template_with_the_values() -> None:
    doc = extract_document((SAMPLES / "invoice-sample.ofd").read_bytes(), "ofd")
    text = lines(doc)
    assert "发票代码：033002000211" in text
    assert "开票日期：2020年07月23日" in text
    assert "价税合计（大写）伍佰贰拾陆圆整（小写）¥526.00" in text
    # a field line: the spaces between its fields are kept (monitor.normalize)
    assert "收款人：管理员 复核：管理员 开票人：管理员" in text
    assert text.index("项目名称规格型号单位数量单价金额税率税额") \
        < text.index("*餐饮服务*餐费 1 510.679612 510.68 3% 15.32")


def test_ofd_zip_bomb_is_refused_before_decompressing() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docs.ofd([docs.REPLY]))) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            zf.writestr(info, src.read(info))
        with zf.open("Doc_0/Res/padding.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(210):
                member.write(block)
    assert len(out.getvalue()) < 1_000_000  # 210 MB inflated
    doc = extract_document(out.getvalue(), "ofd")
    assert doc.status == "not_extracted"
    assert doc.reason.startswith("OFD 文件解压后过大，未提取文本（疑似压缩炸弹")


def test_ofd_with_too_many_members_is_refused() -> None:
    extra = {f"Doc_0/Res/r{i}.xml": b"" for i in range(5001)}
    doc = extract_document(docs.ofd([docs.REPLY], extra=extra), "ofd")
    assert doc.status == "not_extracted"
    assert doc.reason.startswith("OFD 文件成员过多")


def test_ofd_xml_entity_expansion_is_refused() -> None:
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
              b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
              b'<ofd:Page xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Content><ofd:Layer>'
              b'<ofd:TextObject Boundary="0 0 10 10" Size="5"><ofd:TextCode X="0" Y="5">'
              b"&lol3;</ofd:TextCode></ofd:TextObject></ofd:Layer></ofd:Content></ofd:Page>")
    body = docs.ofd([docs.REPLY], extra={"Doc_0/Pages/Page_0/Content.xml": laughs})
    doc = extract_document(body, "ofd")
    assert doc.status == "not_extracted"
    assert "含 XML 实体定义" in doc.reason


def test_ofd_missing_its_page_is_not_extracted() -> None:
    body = docs.ofd([docs.REPLY])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(body)) as src, zipfile.ZipFile(out, "w") as zf:
        for info in src.infolist():
            if "Pages" not in info.filename:
                zf.writestr(info, src.read(info))
    doc = extract_document(out.getvalue(), "ofd")
    assert doc.status == "not_extracted"
    assert doc.reason == "文件不完整，未提取文本（缺少 Doc_0/Pages/Page_0/Content.xml）"


# --- DOCX, XLSX --------------------------------------------------------------------------

def test_docx_paragraphs_and_table_cells_in_document_order() -> None:
    body = docs.docx(docs.REPLY, table=docs.REPLY_TABLE, after=docs.REPLY_PAGE2,
                     title="关于第0192号提案的答复")
    doc = extract_document(body, "docx")
    rows = ["指标 | 2024年 | 2025年 | 增长", "核心产业规模（亿元） | 55.3 | 68.1 | 23.1%",
            "骨干企业（家） | 41 | 57 | 39.0%"]
    assert lines(doc) == docs.REPLY + rows + docs.REPLY_PAGE2
    assert (doc.fmt, doc.title, doc.pages) == ("docx", "关于第0192号提案的答复", None)


def test_docx_merged_cell_is_read_once() -> None:
    import docx as python_docx

    document = python_docx.Document()
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 2))
    merged.text = "2025年重点项目资金安排表"
    for i, value in enumerate(["项目", "资金（亿元）", "68.1"]):
        table.cell(1, i).text = value
    out = io.BytesIO()
    document.save(out)
    assert lines(extract_document(out.getvalue(), "docx")) == [
        "2025年重点项目资金安排表", "项目 | 资金（亿元） | 68.1"]


def test_docx_text_inside_a_content_control_is_read_in_place() -> None:
    import docx as python_docx
    from docx.oxml import parse_xml

    document = python_docx.Document()
    document.add_paragraph("关于第0192号提案的答复")
    marker = document.add_paragraph("正文")
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    marker._p.addprevious(parse_xml(
        f'<w:sdt {w}><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>湘工信提案函〔2026〕17号</w:t>'
        "</w:r></w:p></w:sdtContent></w:sdt>"))
    out = io.BytesIO()
    document.save(out)
    assert lines(extract_document(out.getvalue(), "docx")) == [
        "关于第0192号提案的答复", "湘工信提案函〔2026〕17号", "正文"]


def test_xlsx_sheet_by_sheet_rows_of_cells() -> None:
    import datetime as dt

    body = docs.xlsx({
        "资金安排": [["项目", "金额（亿元）", "日期"], ["算力中心", 68.1, dt.date(2026, 5, 20)],
                 [None, None, None], ["人才引进", 5, None], ["合计", None, 73.1]],
        "说明": [["数据来源：省工业和信息化厅"]],
    }, title="2026年资金安排")
    doc = extract_document(body, "xlsx")
    assert lines(doc) == ["【资金安排】", "项目 | 金额（亿元） | 日期",
                          "算力中心 | 68.1 | 2026-05-20", "人才引进 | 5", "合计 | | 73.1",
                          "【说明】", "数据来源：省工业和信息化厅"]
    assert doc.title == "2026年资金安排"


def test_docx_zip_bomb_is_refused_before_parsing() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docs.docx(docs.REPLY))) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            zf.writestr(info, src.read(info))
        with zf.open("word/media/padding.bin", "w", force_zip64=True) as member:
            for _ in range(210):
                member.write(b"\0" * (1 << 20))
    doc = extract_document(out.getvalue(), "docx")
    assert doc.status == "not_extracted"
    assert doc.reason.startswith("DOCX 文件解压后过大，未提取文本（疑似压缩炸弹")


def test_xlsx_of_several_sheets_is_titled_by_its_first_row_not_a_sheet_name() -> None:
    body = docs.xlsx({"表1": [["2026年重点项目资金安排表"], ["算力中心", 68.1]], "表2": [["说明"]]})
    assert extract_document(body, "xlsx").title == "2026年重点项目资金安排表"


@pytest.mark.parametrize("fmt", ["pdf", "docx", "xlsx", "ofd", "zip"])
@pytest.mark.parametrize("body", [b"", b"\0" * 64, b"PK\x03\x04broken", b"%PDF-1.7\nbroken"])
def test_a_damaged_file_never_raises(fmt: str, body: bytes) -> None:
    doc = extract_document(body, fmt)
    assert (doc.fmt, doc.status, doc.text) == (fmt, "not_extracted", "")
    assert doc.reason.startswith("文件")


def test_truncated_docx_is_not_extracted() -> None:
    body = docs.docx(docs.REPLY)
    doc = extract_document(body[: len(body) - 200], "docx")
    assert doc.status == "not_extracted"
    assert doc.reason.startswith("文件损坏，未提取文本")


# --- ZIP ---------------------------------------------------------------------------------

def test_zip_lists_members_and_extracts_the_documents_in_it() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("答复正文.pdf", docs.reply_pdf())
        zf.writestr("附件/资金表.xlsx", docs.xlsx({"表": [["算力中心", 68.1]]}))
        zf.writestr("照片.jpg", b"\xff\xd8\xff\xe0 not read")
        zf.writestr("XXXX.docx", docs.docx(["本答复自印发之日起施行。"]))
    # A Windows zip tool writes the name in GBK, without the UTF-8 flag.
    body = out.getvalue().replace(b"XXXX.docx", "说明.docx".encode("gbk"))
    doc = extract_document(body, "zip")
    text = lines(doc)
    assert text[:5] == ["压缩包文件列表：", "答复正文.pdf", "附件/资金表.xlsx", "照片.jpg",
                        "说明.docx"]
    assert text[5:7] == ["【答复正文.pdf】", docs.REPLY_TITLE]
    assert text[-4:] == ["【附件/资金表.xlsx】", "算力中心 | 68.1", "【说明.docx】",
                         "本答复自印发之日起施行。"]
    assert "not read" not in doc.text
    assert doc.title == ""  # a ZIP has no title of its own


def test_zip_member_that_cannot_be_read_is_named_with_its_reason() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("扫描件.pdf", docs.scanned_pdf())
    assert lines(extract_document(out.getvalue(), "zip"))[-2:] == [
        "【扫描件.pdf】", "（文本无法提取（无文本层：可能是扫描件或图片））"]


# --- sniffing ----------------------------------------------------------------------------

SNIFFED = [
    ("pdf", "text/html; charset=utf-8", "https://gxt.hunan.gov.cn/u/cms/123.html", "pdf"),
    ("pdf", "application/octet-stream", "https://x.gov.cn/download.jsp?id=7", "pdf"),
    ("docx", "application/octet-stream", "https://x.gov.cn/download.jsp?id=8", "docx"),
    ("docx", "application/zip", "https://x.gov.cn/a.zip", "docx"),
    ("xlsx", "application/msword", "https://x.gov.cn/a.doc", "xlsx"),
    ("ofd", "application/zip", "https://x.gov.cn/a.zip", "ofd"),
    ("zip", "application/octet-stream", "https://x.gov.cn/f", "zip"),
    ("ole", "application/octet-stream", "https://x.gov.cn/答复.wps", "wps"),
    ("ole", "application/kswps", "https://x.gov.cn/f?id=1", "wps"),
    ("ole", "application/octet-stream", "https://x.gov.cn/f?id=1", "doc"),
    ("html", "application/pdf", "https://x.gov.cn/reply.pdf", None),
    ("bom-html", "application/octet-stream", "https://x.gov.cn/reply.pdf", None),
    ("junk", "application/pdf", "https://x.gov.cn/f", "pdf"),
    ("junk", "application/octet-stream", "https://x.gov.cn/files/表.XLSX?v=2#top", "xlsx"),
    ("junk", "text/plain", "https://x.gov.cn/a.txt", None),
    ("junk", None, "https://x.gov.cn/a.ofd", "ofd"),
    ("xls", "application/octet-stream", "https://x.gov.cn/f?id=2", "xls"),
    ("xls", "application/msword", "https://x.gov.cn/a.doc", "xls"),
    ("doc-mentioning-workbook", "application/octet-stream", "https://x.gov.cn/f", "doc"),
]


def _ole(*streams: str, text: str = "") -> bytes:
    """An OLE2 compound file's header and directory entries (enough for sniffing)."""
    entries = b""
    for name in ("Root Entry", *streams):
        encoded = name.encode("utf-16-le") + b"\0\0"
        entries += encoded.ljust(64, b"\0") + len(encoded).to_bytes(2, "little") + b"\0" * 62
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1".ljust(512, b"\0") + entries + b"\0" * 7 + \
        text.encode("utf-16-le")


@pytest.fixture(scope="module")
def bodies() -> dict[str, bytes]:
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("a.txt", "附件")
    return {
        "pdf": docs.reply_pdf(), "docx": docs.docx(["正文"]), "xlsx": docs.xlsx({"s": [[1]]}),
        "ofd": docs.ofd([["正文"]]), "zip": plain.getvalue(),
        "ole": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504,
        "html": "\n <!DOCTYPE html><html><body>404 页面不存在</body></html>".encode(),
        "bom-html": "\ufeff<html><head><title>错误</title></head></html>".encode(),
        "junk": b"some bytes that are nothing in particular",
        "xls": _ole("Workbook", "SummaryInformation"),
        "doc-mentioning-workbook": _ole("WordDocument", "1Table", text="见附件Workbook\0"),
    }


@pytest.mark.parametrize(("kind", "content_type", "url", "expected"), SNIFFED)
def test_sniff_trusts_bytes_then_content_type_then_extension(
        bodies: dict[str, bytes], kind: str, content_type: str | None, url: str,
        expected: str | None) -> None:
    assert sniff(bodies[kind], content_type, url) == expected


def test_xls_is_recognised_and_said_to_be_not_extracted() -> None:
    doc = extract_document(_ole("Workbook"), "xls")
    assert (doc.fmt, doc.status, doc.text) == ("xls", "not_extracted", "")
    assert doc.reason.startswith("未提取文本（.xls 为旧版 Excel 格式")


# --- .doc and .wps through LibreOffice ---------------------------------------------------

@pytest.fixture(scope="module")
def doc_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A Word 97 .doc, converted from a generated .docx by LibreOffice itself."""
    if soffice() is None:
        service_missing("LibreOffice (soffice) is not installed: apt-get install "
                        "libreoffice-writer-nogui")
    tmp = tmp_path_factory.mktemp("doc")
    (tmp / "reply.docx").write_bytes(docs.docx(docs.REPLY + docs.REPLY_PAGE2))
    subprocess.run([soffice(), f"-env:UserInstallation={(tmp / 'profile').as_uri()}",
                    "--headless", "--convert-to", "doc:MS Word 97", "--outdir", str(tmp),
                    str(tmp / "reply.docx")], check=True, capture_output=True, timeout=180)
    return (tmp / "reply.doc").read_bytes()


def test_doc_is_read_through_libreoffice(doc_file: bytes) -> None:
    assert sniff(doc_file, "application/octet-stream", "https://x.gov.cn/f?id=3") == "doc"
    doc = extract_document(doc_file, "doc")
    assert lines(doc) == docs.REPLY + docs.REPLY_PAGE2
    assert doc.title == docs.REPLY_TITLE


def test_wps_and_doc_conversions_at_once_do_not_clash(doc_file: bytes) -> None:
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(extract_document, [doc_file, doc_file], ["doc", "wps"]))
    assert [lines(r) for r in results] == [docs.REPLY + docs.REPLY_PAGE2] * 2
    assert [r.fmt for r in results] == ["doc", "wps"]


def test_doc_without_libreoffice_is_stored_as_not_extracted(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without soffice/libreoffice
    assert shutil.which("soffice") is None
    doc = extract_document(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504, "wps")
    assert (doc.fmt, doc.status, doc.text) == ("wps", "not_extracted", "")
    assert doc.reason.startswith("未安装 LibreOffice，未提取文本（")


def test_conversion_writes_nothing_into_the_users_home(
        doc_file: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A daemon account may have no (writable) home: LibreOffice's caches and profile
    go to the conversion's temporary directory, never to HOME."""
    home = tmp_path / "home"
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("HOME", str(home))
    assert lines(extract_document(doc_file, "doc"))[0] == docs.REPLY_TITLE
    assert not home.exists()


def test_the_cli_does_not_load_document_libraries_until_a_document_comes() -> None:
    """``monitor`` commands import the extract stage; PDFium, lxml and openpyxl cost
    ~150 ms of every command's start and are loaded only to read a document."""
    code = ("import sys, monitor.cli, monitor.extract; "
            "print(sorted(m for m in ('pypdfium2', 'docx', 'openpyxl') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"
