"""Export as evidence: WARC digests and the hash chain in metadata records, and the
manifest checked against the WARC by exactly the script README gives a third party."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from monitor.cli import cli
from monitor.config import Config
from monitor.types import Outcome
from storage import Store
from storage.records import CheckRecord
from tests.conftest import write_sources
from tests.sites import Site
from tests.test_archive_data import PLAN, T0, Built, build_archive
from tests.test_archive_export import sha1_b32
from tests.test_attachments import (
    Reply,
    config,  # noqa: F401  (the fixture)
)
from tests.test_attachments import check as check_page
from tests.test_listing_sources import cli as monitor

ROOT = Path(__file__).resolve().parent.parent


def readme_script(tmp_path: Path) -> Path:
    """The ```python block of README's "Check an export", as a third party saves it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Check an export.**"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    path = tmp_path / "check_export.py"
    path.write_text(code.group(1), encoding="utf-8")
    return path


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, Path, Built]:
    store = Store(os.environ["MONITOR_DATABASE_URL"])
    try:
        built = build_archive(store)
        state = store.page_state(PLAN)  # a later check found 第3版 unchanged
        store.commit_check(CheckRecord(
            page_id=state.page_id, expected_last_version_id=state.last.id if state.last
            else None, expected_revision=state.revision,
            started_at=T0 + timedelta(days=25), duration=0.1, outcome="unchanged"))
    finally:
        store.close()
    sources = write_sources(tmp_path / "sources.toml", "")
    warc, manifest = tmp_path / "a.warc.gz", tmp_path / "a.manifest.jsonl"
    out = CliRunner().invoke(cli, ["export", "--warc", str(warc), "--manifest", str(manifest),
                                   "--sources", str(sources)])
    assert out.exit_code == 0, out.output
    return warc, manifest, built


def check(script: Path, manifest: Path, warc: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(script), str(manifest), str(warc)],
                          capture_output=True, text=True, timeout=60)


def test_the_readme_procedure_accepts_the_export_and_catches_a_changed_byte(
        exported: tuple[Path, Path, Built], tmp_path: Path) -> None:
    warc, manifest, built = exported
    script = readme_script(tmp_path)
    ok = check(script, manifest, warc)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "OK: 8 versions match the manifest and the WARC"
    lines = manifest.read_text(encoding="utf-8").splitlines()
    plan = [json.loads(x) for x in lines[:-1] if json.loads(x)["source"] == PLAN.name]
    assert [e["version"] for e in plan] == [1, 2, 3]
    assert [e["version_id"] for e in plan] == built.versions[PLAN.name]
    assert plan[1]["previous_record_hash"] == plan[0]["record_hash"]
    assert plan[0]["fetched_at"] == "2026-05-01T02:00:00.000000+00:00"
    assert [e["last_confirmed"] for e in plan] == [
        plan[0]["fetched_at"], plan[1]["fetched_at"], "2026-05-26T02:00:00.000000+00:00"]
    assert json.loads(lines[-1])["manifest"]["versions"] == 8
    # a manifest line edited (a date moved): its own hash list no longer matches
    forged = manifest.read_text(encoding="utf-8").replace("2026-05-10T02:00", "2026-05-11T02:00")
    (tmp_path / "forged.jsonl").write_text(forged, encoding="utf-8")
    bad = check(script, tmp_path / "forged.jsonl", warc)
    assert bad.returncode == 1 and "MISMATCH: manifest lines" in bad.stderr
    # the same edit with the summary line recomputed: the record hash catches it
    body = "".join(line + "\n" for line in forged.splitlines()[:-1]).encode()
    summary = json.loads(forged.splitlines()[-1])
    summary["manifest"]["lines_sha256"] = hashlib.sha256(body).hexdigest()
    (tmp_path / "forged.jsonl").write_bytes(body + json.dumps(summary).encode() + b"\n")
    bad = check(script, tmp_path / "forged.jsonl", warc)
    assert bad.returncode == 1 and f"version {built.versions[PLAN.name][1]}" in bad.stderr
    assert ": record" in bad.stderr


def test_a_changed_warc_fails_the_procedure(exported: tuple[Path, Path, Built],
                                            tmp_path: Path) -> None:
    warc, manifest, _ = exported
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 0x01
    changed = tmp_path / "changed.warc.gz"
    changed.write_bytes(bytes(data))
    script = readme_script(tmp_path)
    bad = check(script, manifest, changed)
    assert bad.returncode == 1 and "MISMATCH: WARC file" in bad.stderr
    # the changed WARC with the manifest's summary recomputed for it: its records fail
    lines = manifest.read_text(encoding="utf-8").splitlines()
    summary = json.loads(lines[-1])
    summary["manifest"]["warc_sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    resealed = tmp_path / "resealed.jsonl"
    resealed.write_text("\n".join([*lines[:-1], json.dumps(summary)]) + "\n", encoding="utf-8")
    bad = check(script, resealed, changed)
    assert bad.returncode == 1 and bad.stderr.startswith("MISMATCH:"), bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_version_left_out_of_the_manifest_fails_the_procedure(
        exported: tuple[Path, Path, Built], tmp_path: Path) -> None:
    warc, manifest, _ = exported
    *lines, last = manifest.read_text(encoding="utf-8").splitlines()
    kept = lines[:-1]  # the newest version left out, the summary made to match
    body = "".join(line + "\n" for line in kept).encode()
    summary = json.loads(last)
    summary["manifest"].update(versions=len(kept), lines_sha256=hashlib.sha256(body).hexdigest())
    short = tmp_path / "short.jsonl"
    short.write_bytes(body + json.dumps(summary).encode() + b"\n")
    bad = check(readme_script(tmp_path), short, warc)
    assert bad.returncode == 1
    assert "MISMATCH: the versions of the WARC and of the manifest differ" in bad.stderr


def test_warc_metadata_records_carry_the_chain(exported: tuple[Path, Path, Built]) -> None:
    warc, manifest, _ = exported
    entries = {e["version_id"]: e for e in map(json.loads, manifest.read_text(
        encoding="utf-8").splitlines()[:-1])}
    with warc.open("rb") as fh:
        records = [(r.rec_type, r.rec_headers, r.content_stream().read())
                   for r in ArchiveIterator(fh)]
    metas = [json.loads(body) for kind, _, body in records if kind == "metadata"]
    assert {m["version_id"] for m in metas} == set(entries)
    for m in metas:
        e = entries[m["version_id"]]
        for key in ("version", "text_sha256", "record_hash", "previous_record_hash",
                    "raw_sha256", "fetched_at"):  # one form of the time in both
            assert m[key] == e[key]
    for kind, headers, body in records:
        if kind == "response":
            assert headers.get_header("WARC-Payload-Digest") == sha1_b32(body)
            assert headers.get_header("WARC-Block-Digest").startswith("sha1:")


def test_manifest_alone_and_usage_errors(tmp_path: Path) -> None:
    store = Store(os.environ["MONITOR_DATABASE_URL"])
    build_archive(store)
    store.close()
    sources = write_sources(tmp_path / "sources.toml", "")
    runner = CliRunner()
    out = runner.invoke(cli, ["export", "--manifest", str(tmp_path / "m.jsonl"), "--source",
                              PLAN.name, "--sources", str(sources)])
    assert out.exit_code == 0, out.output
    lines = (tmp_path / "m.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and "warc_sha256" not in json.loads(lines[-1])["manifest"]
    assert "warc_record_id" not in json.loads(lines[0])
    both = runner.invoke(cli, ["export", "--warc", "a", "--jsonl", "b", "--sources",
                               str(sources)])
    assert both.exit_code == 2 and "--manifest" in both.output


OFD_FILES = ROOT / "tests" / "fixtures" / "corpus" / "attachments"
OFD_TYPE = "application/ofd"


def replay(warc: Path, url: str, when: str) -> bytes:
    """What a replay tool returns for ``url`` at ``when`` (a WARC-Date), pywb's way: the
    capture of that URL closest in time; a revisit's bytes are those of the response at
    its WARC-Refers-To-Target-URI closest to its WARC-Refers-To-Date with the same
    payload digest (pywb's ``ResolvingLoader._load_different_url_payload``)."""
    with warc.open("rb") as fh:
        captures = [(r.rec_type, dict(r.rec_headers.headers), r.content_stream().read())
                    for r in ArchiveIterator(fh) if r.rec_type in ("response", "revisit")]

    def closest(uri: str, date: str, kinds: tuple[str, ...], digest: str | None = None
                ) -> tuple[str, dict[str, str], bytes]:
        found = [c for c in captures if c[0] in kinds and c[1]["WARC-Target-URI"] == uri
                 and digest in (None, c[1]["WARC-Payload-Digest"])]
        assert found, (uri, date)
        return min(found, key=lambda c: abs(_seconds(c[1]["WARC-Date"]) - _seconds(date)))

    kind, headers, body = closest(url, when, ("response", "revisit"))
    if kind == "response":
        return body
    assert headers["WARC-Profile"] == (
        "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest")
    return closest(headers["WARC-Refers-To-Target-URI"], headers["WARC-Refers-To-Date"],
                   ("response",), headers["WARC-Payload-Digest"])[2]


def _seconds(warc_date: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(warc_date.replace("Z", "+00:00")).timestamp()


async def test_a_file_replaced_by_a_copy_of_another_replays_under_its_own_url(
        config: Config, store: Store, site: Site, db_url: str,  # noqa: F811
        tmp_path: Path) -> None:
    keyword, chinese = ((OFD_FILES / n).read_bytes() for n in ("keyword2.ofd", "chineseDir.ofd"))
    reply = Reply(site)
    reply.attach("/files/keyword2.ofd", "关键词.ofd", keyword, OFD_TYPE)
    reply.attach("/files/chineseDir.ofd", "目录.ofd", chinese, OFD_TYPE)
    assert (await check_page(config, store)).outcome is Outcome.NEW
    reply.attach("/files/keyword2.ofd", "关键词.ofd", chinese, OFD_TYPE)  # now a copy
    assert (await check_page(config, store)).change_kind == "attachment_changed"
    warc, manifest = tmp_path / "A.warc.gz", tmp_path / "A.manifest.jsonl"
    done = monitor("export", "--source", "reply", "--warc", str(warc), "--manifest", str(manifest),
               "--sources", str(config.path), db=db_url)
    assert done.returncode == 0, done.stderr

    script = readme_script(tmp_path)
    ok = check(script, manifest, warc)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "OK: 2 versions match the manifest and the WARC"
    first, second = (json.loads(line) for line in manifest.read_text("utf-8").splitlines()[:-1])
    assert second["record_format"] == "monitor-record-2"
    assert [a["sha256"] for a in second["attachments"]] == [
        hashlib.sha256(chinese).hexdigest()] * 2
    url = site.url("/files/keyword2.ofd")
    then, now = (e["fetched_at"].replace("+00:00", "Z") for e in (first, second))
    assert replay(warc, url, then) == keyword
    assert replay(warc, url, now) == chinese  # was keyword2.ofd's old bytes
    assert replay(warc, site.url("/files/chineseDir.ofd"), now) == chinese
    with warc.open("rb") as fh:  # each file's bytes once
        files = [r.content_stream().read() for r in ArchiveIterator(fh)
                 if r.rec_type == "response" and "/files/" in r.rec_headers.get_header(
                     "WARC-Target-URI")]
    assert sorted(files) == sorted([keyword, chinese])

    # the revisit records taken out (the manifest resealed for that WARC): the script
    # names the attachment missing under its URL
    stripped = tmp_path / "stripped.warc.gz"
    stripped.write_bytes(_without_revisits(warc.read_bytes()))
    *lines, last = manifest.read_text("utf-8").splitlines()
    summary = json.loads(last)
    summary["manifest"]["warc_sha256"] = hashlib.sha256(stripped.read_bytes()).hexdigest()
    resealed = tmp_path / "resealed.jsonl"
    resealed.write_text("\n".join([*lines, json.dumps(summary)]) + "\n", encoding="utf-8")
    bad = check(script, resealed, stripped)
    assert bad.returncode == 1
    assert f"attachment {url} (sha256 {hashlib.sha256(chinese).hexdigest()}) not in the " \
        "WARC under its URL at the version's time" in bad.stderr


def _without_revisits(data: bytes) -> bytes:
    """The WARC (one gzip member per record) without its revisit records."""
    kept, it = bytearray(), ArchiveIterator(BytesIO(data))
    for record in it:
        kind = record.rec_type
        record.content_stream().read()
        start, length = it.get_record_offset(), it.get_record_length()
        if kind != "revisit":
            kept += data[start:start + length]
    return bytes(kept)
