"""A damaged stored body is never handed out as the record: the API refuses it (409,
naming the version), ``show --raw`` and ``export`` write what is stored but warn and exit
1, the export's metadata and manifest naming the version (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from monitor.cli import cli
from monitor.web.app import create_app
from storage import Store
from tests.conftest import write_sources
from tests.test_archive_data import PLAN, build_archive
from tests.test_evidence_verify import change_body
from tests.test_web_api import make_config, running


def test_the_api_refuses_a_body_that_no_longer_matches(store: Store) -> None:
    built = build_archive(store)
    first, middle, _ = built.versions[PLAN.name]
    change_body(store, built, middle)
    with running(create_app(make_config(), store)) as base, httpx.Client(base_url=base) as c:
        bad = c.get(f"/api/versions/{middle}/raw", headers={"Accept": "application/json"})
        assert bad.status_code == 409
        assert f"第2版（version {middle}）的原始内容与记录的 SHA-256 不符" in bad.text
        good = c.get(f"/api/versions/{first}/raw")
        assert good.status_code == 200 and good.content == built.raw[first]


@pytest.fixture
def damaged(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
            ) -> tuple[Path, int, bytes]:
    built = build_archive(store)
    middle = built.versions[PLAN.name][1]
    change_body(store, built, middle)
    monkeypatch.setenv("MONITOR_DATABASE_URL", store.url)
    return write_sources(tmp_path / "sources.toml", ""), middle, built.raw[middle]


def test_show_raw_writes_the_stored_bytes_but_warns_and_exits_1(
        damaged: tuple[Path, int, bytes]) -> None:
    sources, middle, recorded = damaged
    out = CliRunner().invoke(cli, ["show", str(middle), "--raw", "--sources", str(sources)])
    assert out.exit_code == 1
    assert out.stdout_bytes and out.stdout_bytes != recorded
    assert f"警告：第2版（version {middle}）的原始内容与记录的 SHA-256 不符" in out.stderr
    first = CliRunner().invoke(cli, ["show", str(middle - 1), "--raw", "--sources",
                                     str(sources)])
    assert first.exit_code == 0 and first.stderr == ""


def test_export_writes_what_it_can_names_the_damaged_version_and_exits_1(
        damaged: tuple[Path, int, bytes], tmp_path: Path) -> None:
    sources, middle, _ = damaged
    last = middle + 1  # 第3版 is stored as a delta against 第2版: it cannot be restored
    warc, manifest = tmp_path / "a.warc.gz", tmp_path / "a.manifest.jsonl"
    out = CliRunner().invoke(cli, ["export", "--warc", str(warc), "--manifest",
                                   str(manifest), "--sources", str(sources)])
    assert out.exit_code == 1, out.output
    assert f"第2版（version {middle}）的原始内容与记录的 SHA-256 不符" in out.stderr
    lines = [json.loads(line) for line in manifest.read_text("utf-8").splitlines()]
    assert lines[-1]["manifest"]["damaged_version_ids"] == [middle, last]
    assert lines[-1]["manifest"]["versions"] == 8  # every version still exported
    flagged = {x["version_id"] for x in lines[:-1] if "damaged" in x}
    assert flagged == {middle, last}
    with warc.open("rb") as fh:
        meta = [json.loads(r.content_stream().read()) for r in ArchiveIterator(fh)
                if r.rec_type == "metadata"]
    assert {m["version_id"] for m in meta if "damaged" in m} == {middle, last}
    stored = next(m for m in meta if m["version_id"] == middle)
    assert stored["raw_sha256"] != hashlib.sha256(b"").hexdigest()


def _with_pdf(store: Store) -> tuple[list[int], str]:
    from datetime import timedelta

    from monitor.types import AttachmentFile
    from tests.test_archive_data import T0, store_version

    body = b"%PDF-1.4 the reply"
    sha = hashlib.sha256(body).hexdigest()
    pdf = AttachmentFile(url="http://127.0.0.1:9/files/reply.pdf", name="答复函.pdf",
                         sha256=sha, fmt="pdf", size=len(body), body=body, text="答复")
    again = AttachmentFile(url=pdf.url, name=pdf.name, sha256=sha, fmt="pdf", size=len(body))
    built = build_archive(store)
    vids = [store_version(store, PLAN, "规划", "附件：答复函", T0 + timedelta(days=30), built,
                          files=(pdf,)),
            store_version(store, PLAN, "规划", "附件：答复函。", T0 + timedelta(days=31),
                          built, files=(again,))]  # a 304: the same stored file
    return vids, sha


@pytest.mark.parametrize("how", ["changed", "damaged", "deleted"])
def test_verify_rehashes_each_stored_attachment(store: Store, how: str) -> None:
    from sqlalchemy import text

    from storage import rawcodec
    from storage.verify import verify

    vids, sha = _with_pdf(store)
    assert verify(store).ok
    with store.engine.begin() as conn:
        if how == "changed":
            conn.execute(text("UPDATE files SET body = :b WHERE sha256 = :s"),
                         {"b": rawcodec.compress(b"%PDF-1.4 the reply, altered"), "s": sha})
        elif how == "damaged":
            conn.execute(text("UPDATE files SET body = :b WHERE sha256 = :s"),
                         {"b": b"\x28\xb5\x2f\xfd garbage", "s": sha})
        else:
            conn.execute(text("DELETE FROM files WHERE sha256 = :s"), {"s": sha})
    report = verify(store)
    assert not report.ok
    assert {p.version_id for p in report.problems} == set(vids)
    for p in report.problems:
        assert p.what.endswith("：附件「答复函.pdf」") and sha in p.detail
    expected = {"changed": "附件文件的内容与记录的 SHA-256 不符", "damaged": "附件文件无法读取",
                "deleted": "附件文件已不存在"}[how]
    assert all(p.what.startswith(expected) for p in report.problems), report.problems


@pytest.mark.parametrize("edit", [
    "UPDATE versions SET title = title || '（修订）' WHERE id = :v",
    "UPDATE versions SET attachments = REPLACE(CAST(attachments AS TEXT), '答复函', '复函')"
    " WHERE id = :v"])
def test_a_new_versions_record_covers_its_title_and_attachment_list(store: Store,
                                                                     edit: str) -> None:
    from sqlalchemy import text

    from storage.verify import verify

    vids, _ = _with_pdf(store)
    if store.url.startswith("postgresql") and "attachments" in edit:
        edit = edit.replace("REPLACE(CAST(attachments AS TEXT), '答复函', '复函')",
                            "CAST(REPLACE(CAST(attachments AS TEXT), '答复函', '复函') AS JSON)")
    with store.engine.begin() as conn:
        conn.execute(text(edit), {"v": vids[0]})
    report = verify(store)
    assert [(p.version_id, p.what[:7]) for p in report.problems] == [(vids[0], "记录哈希链断开")]
