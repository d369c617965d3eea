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
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from monitor.cli import cli
from storage import Store
from storage.records import CheckRecord
from tests.conftest import write_sources
from tests.test_archive_data import PLAN, T0, Built, build_archive
from tests.test_archive_export import sha1_b32

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
