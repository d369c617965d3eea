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

Each attachment a version lists (``versions.attachments``) is one more record under the
attachment's own URL, dated like the version (the check that stored the version fetched
it): ``200 OK``, the Content-Type of its format.  The bytes are written once per export:
the first time a file (by SHA-256) comes, its record is a ``response`` holding the
original bytes as stored; every later (URL, file) pair that lists the same bytes, under
that URL or another one, is a ``revisit`` record (WARC 1.1 §6.7.2, profile
``http://netpreserve.org/warc/1.1/revisit/identical-payload-digest``) with the HTTP
headers only, pointing at that response: ``WARC-Refers-To-Target-URI`` and
``WARC-Refers-To-Date`` (how pywb finds the bytes, with the digest), ``WARC-Refers-To``
(its record id) and the same ``WARC-Payload-Digest``.  So every (URL, content) pair the
archive observed replays under its own URL at its own time: a file replaced by a copy of
another attachment (``keyword2.ofd`` becoming the bytes of ``chineseDir.ofd``) is a
revisit under ``keyword2.ofd`` at the new version's time, not a record skipped because
those bytes were already written under ``chineseDir.ofd`` (they once were: replay of
``keyword2.ofd`` then returned the old file).  A file unchanged across versions costs a
revisit record per version (a few hundred bytes), which is also what says it was still
there then.  A file that could not be fetched has no bytes and no record; the metadata
record lists every attachment either way.

warcio computes ``WARC-Block-Digest`` and ``WARC-Payload-Digest`` the WARC convention's
way: ``sha1:`` and the base32 SHA-1 (of the whole record block, and of the HTTP body as
stored).  The archive's own SHA-256 hashes travel in the metadata record: the version's
number in its page, ``raw_sha256`` (of the same body), ``text_sha256``, ``record_hash``
and ``previous_record_hash``, the hash chain of ``storage/verify.py``.  So do when the
version was confirmed (``confirmed`` spans) and the times the page was gone while it was
current (``gone``): a WARC has no record type for "this URL answered 404 from … to …"
that replay tools understand (a ``response`` record of the 404 would replay as the
page), so a deletion is told in the metadata record of the version it interrupted, and
no span of that version's ``confirmed`` covers it (``presence_of``).

A manifest (``--manifest``) is JSON lines, one per version exported: the page, the
version's id and number, its times, its hashes, the fields its record hash is taken of,
and with a WARC the record id and payload digest of its response record.  The last line
(``{"manifest": …}``) counts the versions and gives the SHA-256 of every line before it
and of the WARC file, so the manifest itself can be signed and published (README: "Check
an export").
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterable
from datetime import UTC
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import IO, Any, NamedTuple
from urllib.parse import urlsplit

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from monitor import __version__
from monitor.extract.files import content_type
from storage.archive import ArchivedVersion
from storage.records import StoredFile
from storage.verify import (
    RECORD_FORMAT,
    RECORD_FORMAT_2,
    canonical_time,
    record_attachments,
    record_scheme,
)

# Headers describing an encoding or length the stored body no longer has.
DROPPED_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})

Progress = Callable[[ArchivedVersion], None]
FileLoader = Callable[[str], StoredFile]  # a stored file with its bytes, by SHA-256
STDOUT = "-"  # as a JSON lines path: standard output


def write_warc(versions: Iterable[ArchivedVersion], path: Path, *, user_agent: str,
               progress: Progress | None = None, files: FileLoader | None = None,
               manifest: Manifest | None = None) -> int:
    """Write the versions to ``path`` (gzipped per record if it ends in ``.gz``), with
    ``files`` their attachment files, and with ``manifest`` a line for each."""
    count, written = 0, dict[str, StoredCopy]()
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=path.name.endswith(".gz"), warc_version="1.1")
        writer.write_record(writer.create_warcinfo_record(path.name, {
            "software": f"monitor/{__version__} (warcio)",
            "format": "WARC File Format 1.1",
            "description": "Versions of watched pages: raw bodies as fetched, with the "
                           "extracted text in metadata records.",
        }))
        for version in versions:
            response = write_version(writer, version, user_agent)
            if manifest is not None:
                manifest.add(version, response)
            if files is not None:
                write_attachments(writer, version, files, written)
            count += 1
            if progress:
                progress(version)
    return count


def write_version(writer: WARCWriter, v: ArchivedVersion, user_agent: str) -> ArcWarcRecord:
    """The version's request, response and metadata records; the response returned."""
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
    return response


class StoredCopy(NamedTuple):
    """Where an attachment file's bytes are in this export: its ``response`` record."""

    uri: str
    date: str
    record_id: str
    payload_digest: str
    content_type: str
    length: int


def write_attachments(writer: WARCWriter, v: ArchivedVersion, files: FileLoader,
                      written: dict[str, StoredCopy]) -> None:
    """A record of each attachment file the version lists, under its URL at the version's
    time: a ``response`` the first time its bytes come in this export (``written``, by
    SHA-256), a revisit of that response after."""
    date = warc_date(v)
    for url, sha in listed_files(v):
        first = written.get(sha)
        if first is None:
            first = write_file(writer, url, date, sha, files)
            if first is not None:
                written[sha] = first
        else:
            writer.write_record(revisit_of(writer, first, url, date))


def listed_files(v: ArchivedVersion) -> list[tuple[str, str]]:
    """The (URL, SHA-256) pairs of the version's fetched attachments, each once."""
    pairs = [(str(e.get("url") or ""), str(e.get("sha256") or "")) for e in v.attachments]
    return list(dict.fromkeys((url, sha) for url, sha in pairs if url and sha))


def write_file(writer: WARCWriter, url: str, date: str, sha: str,
               files: FileLoader) -> StoredCopy | None:
    """The file's bytes as a ``response`` record (``None``: not stored)."""
    try:
        stored = files(sha)
    except KeyError:
        return None
    ctype = content_type(stored.format)
    record = writer.create_warc_record(
        url, "response", payload=BytesIO(stored.body), length=len(stored.body),
        http_headers=file_headers(ctype, len(stored.body)),
        warc_headers_dict={"WARC-Date": date})
    writer.write_record(record)
    headers = record.rec_headers
    return StoredCopy(url, date, headers.get_header("WARC-Record-ID"),
                      headers.get_header("WARC-Payload-Digest"), ctype, len(stored.body))


def revisit_of(writer: WARCWriter, first: StoredCopy, url: str, date: str) -> ArcWarcRecord:
    """An identical-payload-digest revisit: ``url`` at ``date`` answered the bytes of
    ``first`` (its own HTTP headers, the payload found by URI, date and digest)."""
    return writer.create_revisit_record(
        url, first.payload_digest, first.uri, first.date,
        http_headers=file_headers(first.content_type, first.length),
        warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": first.record_id})


def file_headers(ctype: str, length: int) -> StatusAndHeaders:
    return StatusAndHeaders("200 OK", [("Content-Type", ctype),
                                       ("Content-Length", str(length))], protocol="HTTP/1.1")


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
        "fetched_at": canonical_time(v.fetched_at), "title": v.title,
        "metadata": v.metadata, "text": v.text, "content_hash": v.content_hash,
        "raw_sha256": v.raw_sha256, "http_status": v.http_status, "charset": v.charset,
        "change_kinds": v.change_kinds,
        "attachments": [{k: a.get(k) for k in ("url", "name", "sha256", "status", "reason",
                                               "format", "size")} for a in v.attachments],
        **evidence_of(v),
    }


def evidence_of(v: ArchivedVersion) -> dict[str, Any]:
    """The version's place in its page's hash chain (``storage/verify.py``) and the
    format its record hash was taken in."""
    return {"version": v.number, "text_sha256": v.text_sha256, "record_hash": v.record_hash,
            "previous_record_hash": v.previous_hash, "record_format": scheme_of(v),
            **presence_of(v), **({"damaged": v.damage} if v.damage else {})}


def presence_of(v: ArchivedVersion) -> dict[str, Any]:
    """When checks read the version as the page's current one (``confirmed``: spans that
    never cover a time the page was gone) and when, while it was current, the page was
    gone (``gone``: from its first failed check, when 页面已删除 was recorded, until the
    check that found it back, ``null`` while still gone)."""
    return {"confirmed": [{"from": canonical_time(a), "to": canonical_time(b)}
                          for a, b in v.confirmed],
            "gone": [{"since": canonical_time(p.since), "recorded": canonical_time(p.recorded),
                      "until": canonical_time(p.until) if p.until else None,
                      "reason": p.reason} for p in v.gone]}


def scheme_of(v: ArchivedVersion) -> str:
    return record_scheme(v.record_hash, title=v.title, attachments=v.attachments,
                         url=v.url, number=v.number, fetched_at=v.fetched_at,
                         raw_sha256=v.raw_sha256, text_sha256=v.text_sha256,
                         meta=v.metadata, previous=v.previous_hash) or RECORD_FORMAT


def sealed_fields(v: ArchivedVersion, scheme: str) -> dict[str, Any]:
    """What a format-2 record covers beyond format 1, as the record has it."""
    if scheme != RECORD_FORMAT_2:
        return {}
    return {"title": v.title, "attachments": record_attachments(v.attachments)}


class Manifest:
    """JSON lines naming each exported version and its hashes, then a summary line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh: IO[bytes] = path.open("wb")
        self.digest = hashlib.sha256()
        self.count = 0
        self.damaged: list[int] = []  # ids of versions whose body is not the recorded one

    def add(self, v: ArchivedVersion, response: ArcWarcRecord | None = None) -> None:
        line = {"source": v.source, "page_id": v.page_id, "page_url": v.page_url,
                "url": v.url, "version_id": v.id, "fetched_at": canonical_time(v.fetched_at),
                "last_confirmed": canonical_time(v.last_confirmed) if v.last_confirmed
                else None,
                "raw_sha256": v.raw_sha256, "meta": v.metadata, **evidence_of(v)}
        line.update(sealed_fields(v, line["record_format"]))
        if response is not None:
            headers = response.rec_headers
            line["warc_record_id"] = headers.get_header("WARC-Record-ID")
            line["warc_payload_digest"] = headers.get_header("WARC-Payload-Digest")
        self._write(line)
        self.count += 1
        if v.damage:
            self.damaged.append(v.id)

    def close(self, *, warc: Path | None = None) -> None:
        summary: dict[str, Any] = {
            "versions": self.count, "lines_sha256": self.digest.hexdigest(),
            "software": f"monitor/{__version__}"}
        if self.damaged:
            summary["damaged_version_ids"] = self.damaged
        if warc is not None:
            summary["warc"] = warc.name
            summary["warc_sha256"] = _file_sha256(warc)
        self.fh.write(_json_line({"manifest": summary}))
        self.fh.close()

    def _write(self, data: dict[str, Any]) -> None:
        line = _json_line(data)
        self.digest.update(line)
        self.fh.write(line)


def _json_line(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_jsonl(versions: Iterable[ArchivedVersion], path: Path, *,
                progress: Progress | None = None, manifest: Manifest | None = None) -> int:
    """One JSON object per version; ``-`` as the path writes to standard output."""
    if str(path) == STDOUT:
        return _write_jsonl(versions, sys.stdout, progress, manifest)
    with path.open("w", encoding="utf-8") as fh:
        return _write_jsonl(versions, fh, progress, manifest)


def write_manifest(versions: Iterable[ArchivedVersion], manifest: Manifest, *,
                   progress: Progress | None = None) -> int:
    """Only the manifest: a line for each version."""
    for version in versions:
        manifest.add(version)
        if progress:
            progress(version)
    return manifest.count


def _write_jsonl(versions: Iterable[ArchivedVersion], fh: IO[str],
                 progress: Progress | None, manifest: Manifest | None) -> int:
    count = 0
    for version in versions:
        _write_line(fh, {**metadata_of(version), "headers": version.headers})
        if manifest is not None:
            manifest.add(version)
        count += 1
        if progress:
            progress(version)
    fh.flush()
    return count


def _write_line(fh: IO[str], data: dict[str, Any]) -> None:
    fh.write(json.dumps(data, ensure_ascii=False) + "\n")
