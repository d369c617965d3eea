"""ZIP containers, opened with limits, and ZIP attachments.

DOCX, XLSX and OFD are ZIP files too, so every ZIP is opened through ``open_zip``,
which refuses before anything is decompressed:

* more than ``MAX_MEMBERS`` members;
* a declared uncompressed total above ``MAX_TOTAL`` bytes (a zip bomb);

and ``read_member`` reads at most ``limit`` bytes of a member whatever its header says
(a header can lie about the size).

A ZIP attachment (``extract_zip``) is listed: its member names first, then the text of
each member in a supported format under a 【name】 line, at most ``MAX_EXTRACTED``
members, one level deep (a ZIP inside a ZIP is listed, not opened).  Member names that
Windows tools wrote in GBK without the UTF-8 flag are decoded as GB18030, as the unzip
tools of Chinese readers do.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

from monitor.errors import DocumentUnreadableError
from monitor.types import DocumentText

MAX_MEMBERS = 5000
MAX_TOTAL = 200_000_000
MAX_MEMBER = 50_000_000
MAX_EXTRACTED = 50
# Members worth decompressing: a ZIP inside a ZIP is listed only.
DOCUMENT_EXTENSIONS = (".pdf", ".docx", ".xlsx", ".doc", ".wps", ".ofd", ".xls")
_UTF8_FLAG = 0x800


def open_zip(body: bytes, what: str = "压缩包") -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(io.BytesIO(body))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentUnreadableError(f"文件损坏，未提取文本（{what}无法打开：{exc}）") from exc
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise DocumentUnreadableError(
            f"{what}成员过多，未提取文本（{len(infos)} 个，上限 {MAX_MEMBERS}）")
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL:
        raise DocumentUnreadableError(
            f"{what}解压后过大，未提取文本（疑似压缩炸弹：{total} 字节，上限 {MAX_TOTAL}）")
    return zf


def read_member(zf: zipfile.ZipFile, name: str, limit: int = MAX_MEMBER) -> bytes:
    """A member's bytes, refusing one that decompresses to more than ``limit``."""
    try:
        with zf.open(name) as member:
            data = member.read(limit + 1)
    except KeyError as exc:
        raise DocumentUnreadableError(f"文件不完整，未提取文本（缺少 {name}）") from exc
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise DocumentUnreadableError(f"文件损坏，未提取文本（{name}：{exc}）") from exc
    if len(data) > limit:
        raise DocumentUnreadableError(
            f"文件解压后过大，未提取文本（疑似压缩炸弹：{name} 超过 {limit} 字节）")
    return data


def member_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & _UTF8_FLAG:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def extract_zip(body: bytes, extract: Callable[[bytes, str], DocumentText | None]
                ) -> list[str]:
    """The lines of a ZIP attachment: member list, then each readable member's text.

    ``extract(data, name)`` is the text of one member, None for a format not read."""
    zf = open_zip(body)
    files = [info for info in zf.infolist() if not info.is_dir()]
    lines = ["压缩包文件列表：", *(member_name(info) for info in files)]
    done = 0
    for info in files:
        if done >= MAX_EXTRACTED:
            lines.append(f"（其余文件未提取：每个压缩包最多提取 {MAX_EXTRACTED} 个文件）")
            break
        name = member_name(info)
        if not name.lower().endswith(DOCUMENT_EXTENSIONS):
            continue
        try:
            doc = extract(read_member(zf, info.filename), name)
        except DocumentUnreadableError as exc:
            doc = DocumentText(fmt="", status="not_extracted", reason=exc.message)
        if doc is not None:
            done += 1
            lines += _member_lines(name, doc)
    return lines


def _member_lines(name: str, doc: DocumentText) -> list[str]:
    if doc.status != "ok":
        return [f"【{name}】", f"（{doc.reason}）"]
    return [f"【{name}】", *doc.text.splitlines()]
