"""WARC 1.1 and JSON-lines export, read back with warcio's ArchiveIterator."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from monitor.export import write_jsonl, write_warc
from storage import Store
from storage.archive import Archive
from tests.test_archive_data import PLAN, PLAN_V2, T0, Built, build_archive, store_version

UA = "monitor-test/1.0"


def read_warc(path: Path) -> list[dict[str, object]]:
    records = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh, check_digests="raise"):
            body = rec.content_stream().read()
            records.append({"type": rec.rec_type, "headers": rec.rec_headers,
                            "http": rec.http_headers, "body": body,
                            "digest_ok": rec.digest_checker.passed})
    return records


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def test_warc_has_request_response_metadata_with_original_bytes(store: Store,
                                                                tmp_path: Path) -> None:
    built = build_archive(store)
    path = tmp_path / "archive.warc.gz"
    count = write_warc(Archive(store).iter_versions(), path, user_agent=UA)
    assert count == sum(len(v) for v in built.versions.values())
    records = read_warc(path)
    assert records[0]["type"] == "warcinfo"
    assert [r["type"] for r in records[1:]] == ["request", "response", "metadata"] * count
    assert all(r["headers"].protocol == "WARC/1.1" for r in records)
    assert all(r["digest_ok"] is not False for r in records)
    responses = [r for r in records if r["type"] == "response"]
    by_id = {int(json.loads(m["body"])["version_id"]): (resp, m) for resp, m in
             zip(responses, [r for r in records if r["type"] == "metadata"], strict=True)}
    assert set(by_id) == set(built.raw)
    for vid, raw in built.raw.items():
        response, metadata = by_id[vid]
        assert response["body"] == raw  # the bytes as fetched, not re-encoded
        assert response["headers"].get_header("WARC-Payload-Digest") == sha1_b32(raw)
        assert response["digest_ok"] is True
        fetched = built.fetched[vid].strftime("%Y-%m-%dT%H:%M:%S")
        assert response["headers"].get_header("WARC-Date").startswith(fetched)
        assert response["headers"].get_header("WARC-Date").endswith("Z")
        rid = response["headers"].get_header("WARC-Record-ID")
        assert metadata["headers"].get_header("WARC-Refers-To") == rid
        assert metadata["headers"].get_header("Content-Type") == "application/json"


def test_response_headers_replay_the_decoded_body(store: Store, tmp_path: Path) -> None:
    built = build_archive(store)
    path = tmp_path / "plan.warc"
    write_warc(Archive(store).iter_versions(source="hb-ai-plan"), path, user_agent=UA)
    records = read_warc(path)
    request, response, metadata = records[1:4]
    http = response["http"]
    assert http.statusline == "200 OK" and http.protocol == "HTTP/1.1"
    assert http.get_header("Content-Encoding") is None  # the body was stored gunzipped
    assert http.get_header("Content-Length") == str(len(response["body"]))
    assert http.get_header("Content-Type") == "text/html; charset=utf-8"
    assert http.get_header("Server") == "nginx"
    assert request["http"].protocol == "GET" and request["http"].statusline == "/plan.html HTTP/1.1"
    assert request["http"].get_header("Host") == "127.0.0.1:9"
    assert request["http"].get_header("User-Agent") == UA
    rid = response["headers"].get_header("WARC-Record-ID")
    assert request["headers"].get_header("WARC-Concurrent-To") == rid
    assert request["headers"].get_header("WARC-Target-URI") == PLAN.url
    meta = json.loads(metadata["body"])
    assert meta["source"] == "hb-ai-plan" and meta["metadata"]["文号"] == "鄂政发〔2026〕5号"
    assert meta["version_id"] == built.versions["hb-ai-plan"][0]


def test_filters_by_source_and_dates(store: Store, tmp_path: Path) -> None:
    built = build_archive(store)
    archive = Archive(store)
    window = {"since": T0 + timedelta(days=1), "until": T0 + timedelta(days=10)}
    ids = [v.id for v in archive.iter_versions(**window)]
    expected = sorted((vid for vid, at in built.fetched.items()
                       if window["since"] <= at <= window["until"]),
                      key=lambda v: (built.fetched[v], v))
    assert ids == expected and archive.count_versions(**window) == len(ids)
    assert [v.id for v in archive.iter_versions(source="hn-reply")] == built.versions["hn-reply"]


def test_delta_compressed_versions_export_exactly_from_any_starting_point(
        store: Store, tmp_path: Path) -> None:
    built = Built()
    for i in range(20):  # one full copy, then deltas against the previous body
        store_version(store, PLAN, f"第{i}版", PLAN_V2 + f"\n修订{i}", T0 + timedelta(hours=i),
                      built)
    archive = Archive(store)
    assert {v.id: v.raw for v in archive.iter_versions(batch=3)} == built.raw
    later = {v.id: v.raw for v in archive.iter_versions(since=T0 + timedelta(hours=7))}
    assert later == {vid: raw for vid, raw in built.raw.items()
                     if built.fetched[vid] >= T0 + timedelta(hours=7)}


def test_jsonl_has_one_version_per_line_with_text_and_metadata(store: Store,
                                                               tmp_path: Path) -> None:
    built = build_archive(store)
    path = tmp_path / "out.jsonl"
    count = write_jsonl(Archive(store).iter_versions(source="hb-ai-plan"), path)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert count == len(lines) == 3
    assert [x["version_id"] for x in lines] == built.versions["hb-ai-plan"]
    assert lines[1]["text"] == PLAN_V2 and lines[1]["change_kinds"] == ["changed"]
    assert lines[2]["metadata"]["发文日期"] == "2026-05-20"
    assert lines[0]["fetched_at"] == T0.isoformat(timespec="microseconds")  # the record hash's form
    assert "人工智能" in path.read_text(encoding="utf-8")  # UTF-8, not \\u escapes
