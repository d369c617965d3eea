"""Export archived versions as WARC 1.1 (warcio) or JSON lines.

Each version becomes three WARC records sharing its target URI and fetch time:

* ``request``: a reconstructed ``GET`` (the request itself is not stored: only its
  method, path, host and our User-Agent are certain);
* ``response``: the status line, the stored response headers and the raw body bytes
  exactly as fetched.  The stored body is already transfer-decoded (gunzipped), so
  ``Content-Encoding``/``Transfer-Encoding`` are dropped and ``Content-Length`` is set to
  the real length; otherwise a replay tool (pywb) would try to gunzip plain bytes;
* ``metadata``: the extracted title, text and metadata as JSON (``application/json``),
  referring to the response.

Each attachment file of the exported versions (``versions.attachments``) is one more
``response`` record, once per file per export (by SHA-256, the first version listing it
gives its date): its URL, ``200 OK``, the Content-Type of its format and the original
bytes as stored.  A file that could not be fetched has no bytes and no record; the
metadata record lists every attachment either way.

warcio computes ``WARC-Block-Digest`` and ``WARC-Payload-Digest`` (sha1, base32).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from datetime import UTC
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from monitor import __version__
from monitor.attachments import content_type
from storage.archive import ArchivedVersion
from storage.records import StoredFile

# Headers describing an encoding or length the stored body no longer has.
DROPPED_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})

Progress = Callable[[ArchivedVersion], None]
FileLoader = Callable[[str], StoredFile]  # a stored file with its bytes, by SHA-256
STDOUT = "-"  # as a JSON lines path: standard output


def write_warc(versions: Iterable[ArchivedVersion], path: Path, *, user_agent: str,
               progress: Progress | None = None, files: FileLoader | None = None) -> int:
    """Write the versions to ``path`` (gzipped per record if it ends in ``.gz``), and
    with ``files`` their attachment files."""
    count, written = 0, set[str]()
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=path.name.endswith(".gz"), warc_version="1.1")
        writer.write_record(writer.create_warcinfo_record(path.name, {
            "software": f"monitor/{__version__} (warcio)",
            "format": "WARC File Format 1.1",
            "description": "Versions of watched pages: raw bodies as fetched, with the "
                           "extracted text in metadata records.",
        }))
        for version in versions:
            write_version(writer, version, user_agent)
            if files is not None:
                write_attachments(writer, version, files, written)
            count += 1
            if progress:
                progress(version)
    return count


def write_version(writer: WARCWriter, v: ArchivedVersion, user_agent: str) -> None:
    date = warc_date(v)
    response = writer.create_warc_record(
        v.url, "response", payload=BytesIO(v.raw), length=len(v.raw),
        http_headers=response_headers(v), warc_headers_dict={"WARC-Date": date})
    response_id = response.rec_headers.get_header("WARC-Record-ID")
    request = writer.create_warc_record(
        v.url, "request", http_headers=request_headers(v.url, user_agent),
        warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id})
    body = json.dumps(metadata_of(v), ensure_ascii=False, indent=1).encode()
    metadata = writer.create_warc_record(
        v.url, "metadata", payload=BytesIO(body), length=len(body),
        warc_content_type="application/json",
        warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": response_id})
    for record in (request, response, metadata):
        writer.write_record(record)


def write_attachments(writer: WARCWriter, v: ArchivedVersion, files: FileLoader,
                      written: set[str]) -> None:
    """A response record for each attachment file not written yet in this export."""
    for entry in v.attachments:
        sha = str(entry.get("sha256") or "")
        if not sha or sha in written:
            continue
        try:
            stored = files(sha)
        except KeyError:
            continue
        written.add(sha)
        headers = StatusAndHeaders("200 OK", [
            ("Content-Type", content_type(stored.format)),
            ("Content-Length", str(len(stored.body)))], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(
            str(entry.get("url", "")), "response", payload=BytesIO(stored.body),
            length=len(stored.body), http_headers=headers,
            warc_headers_dict={"WARC-Date": warc_date(v)}))


def warc_date(v: ArchivedVersion) -> str:
    return datetime_to_iso_date(v.fetched_at.astimezone(UTC).replace(tzinfo=None),
                                use_micros=True)


def response_headers(v: ArchivedVersion) -> StatusAndHeaders:
    try:
        reason = HTTPStatus(v.http_status).phrase
    except ValueError:
        reason = ""
    headers = [(_title_case(k), val) for k, val in v.headers.items()
               if k.lower() not in DROPPED_HEADERS]
    if not any(k.lower() == "content-type" for k, _ in headers) and v.charset:
        headers.append(("Content-Type", f"text/html; charset={v.charset}"))
    headers.append(("Content-Length", str(len(v.raw))))
    return StatusAndHeaders(f"{v.http_status} {reason}".strip(), headers,
                            protocol="HTTP/1.1")


def request_headers(url: str, user_agent: str) -> StatusAndHeaders:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return StatusAndHeaders(f"GET {target} HTTP/1.1",
                            [("Host", parts.netloc), ("User-Agent", user_agent)],
                            protocol="HTTP/1.1", is_http_request=True)


def _title_case(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def metadata_of(v: ArchivedVersion) -> dict[str, Any]:
    """The archive's own view of a version (WARC metadata and JSON lines)."""
    return {
        "version_id": v.id, "source": v.source, "page_url": v.page_url, "url": v.url,
        "fetched_at": v.fetched_at.astimezone(UTC).isoformat(), "title": v.title,
        "metadata": v.metadata, "text": v.text, "content_hash": v.content_hash,
        "raw_sha256": v.raw_sha256, "http_status": v.http_status, "charset": v.charset,
        "change_kinds": v.change_kinds,
        "attachments": [{k: a.get(k) for k in ("url", "name", "sha256", "status", "reason",
                                               "format", "size")} for a in v.attachments],
    }


def write_jsonl(versions: Iterable[ArchivedVersion], path: Path, *,
                progress: Progress | None = None) -> int:
    """One JSON object per version; ``-`` as the path writes to standard output."""
    if str(path) == STDOUT:
        return _write_jsonl(versions, sys.stdout, progress)
    with path.open("w", encoding="utf-8") as fh:
        return _write_jsonl(versions, fh, progress)


def _write_jsonl(versions: Iterable[ArchivedVersion], fh: IO[str],
                 progress: Progress | None) -> int:
    count = 0
    for version in versions:
        _write_line(fh, {**metadata_of(version), "headers": version.headers})
        count += 1
        if progress:
            progress(version)
    fh.flush()
    return count


def _write_line(fh: IO[str], data: dict[str, Any]) -> None:
    fh.write(json.dumps(data, ensure_ascii=False) + "\n")
