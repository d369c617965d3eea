"""The API for other tools: the changes cursor under concurrent inserts (SQLite and
PostgreSQL), paging, a source's versions, a version's raw bytes, and an OpenAPI
document that describes every route with its fields."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import fields, is_dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from monitor.config import SourceConfig
from monitor.export import Manifest
from monitor.types import ChangeKind
from monitor.web.app import create_app
from storage import Store
from storage.archive import Archive
from storage.models import Change
from tests.test_archive_data import PLAN, T0, Built, build_archive, change, store_version
from tests.test_evidence_verify import documented_record_hash
from tests.test_web_api import make_config, running

WRITERS, EACH = 4, 12


def test_changes_cursor_misses_and_repeats_nothing_while_checks_write(store: Store) -> None:
    sources = [SourceConfig(name=f"w{i}", url=f"http://127.0.0.1:9/w{i}.html")
               for i in range(WRITERS)]
    store.sync_sources(sources)
    for src in sources:
        store_version(store, src, src.name, "初版", T0, Built())

    def write(src: SourceConfig) -> None:
        for n in range(1, EACH + 1):
            store_version(store, src, src.name, f"第{n}次修改", T0 + timedelta(hours=n),
                          Built(), changes=(change(ChangeKind.CHANGED, f"修改{n}", 1, 1),))

    writers = [threading.Thread(target=write, args=(src,)) for src in sources]
    seen: list[int] = []
    with running(create_app(make_config(), store)) as base, httpx.Client(base_url=base) as c:
        for t in writers:
            t.start()

        def poll() -> int:
            since = seen[-1] if seen else 0
            got = c.get("/api/changes", params={"since": since, "limit": 5})
            assert got.status_code == 200, got.text
            seen.extend(x["id"] for x in got.json())
            return len(got.json())

        while any(t.is_alive() for t in writers):
            poll()
        for t in writers:
            t.join()
        while poll():
            pass
    assert len(seen) == len(set(seen)) == WRITERS * EACH  # none repeated, none missed
    assert seen == sorted(seen)
    assert store.count(Change) == len(seen)


async def test_lists_page_and_versions_and_raw_bytes(store: Store) -> None:
    built = build_archive(store)
    app = create_app(make_config(), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as client:
        everything = (await client.get("/api/sources")).json()
        page = await client.get("/api/sources", params={"limit": 2, "offset": 1})
        assert page.headers["X-Total-Count"] == "4"
        assert page.json() == everything[1:3]
        versions = (await client.get(f"/api/sources/{PLAN.name}/versions",
                                     params={"order": "desc", "limit": 2})).json()
        assert [(v["number"], v["id"]) for v in versions] == [
            (3, built.versions[PLAN.name][2]), (2, built.versions[PLAN.name][1])]
        assert versions[1]["change_kind"] == "changed"
        vid = built.versions[PLAN.name][0]
        raw = await client.get(f"/api/versions/{vid}/raw")
        assert raw.status_code == 200 and raw.content == built.raw[vid]
        assert raw.headers["content-type"] == "application/octet-stream"
        assert raw.headers["x-raw-sha256"] == hashlib.sha256(built.raw[vid]).hexdigest()
        assert "attachment" in raw.headers["content-disposition"]
        assert (await client.get("/api/versions/999999/raw")).status_code == 404
        newest = (await client.get("/api/changes", params={"limit": 2})).json()
        ids = sorted(built.changes)
        assert [c["id"] for c in newest] == ids[::-1][:2]  # newest first without since
        back = (await client.get("/api/changes", params={"before": ids[-2],
                                                         "order": "desc"})).json()
        assert [c["id"] for c in back] == ids[::-1][2:]
        assert (await client.get("/api/changes", params={"order": "sideways"})).status_code \
            == 422


def _fields(model: object) -> set[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return {f.alias or name for name, f in model.model_fields.items()}
    if is_dataclass(model):
        return {f.name for f in fields(model)}
    return set()


def _routes(routes: list[Any]) -> list[Any]:
    """Every route, those of included routers too (FastAPI wraps each included router)."""
    out = []
    for r in routes:
        inner = getattr(r, "original_router", None)
        out += _routes(inner.routes) if inner is not None else [r]
    return out


def _inner(model: object) -> object:
    args = getattr(model, "__args__", None)
    return args[0] if args else model


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_openapi_describes_every_route_and_its_fields(store: Store) -> None:
    app = create_app(make_config(), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as client:
        schema = (await client.get("/api/openapi.json")).json()
    components = schema["components"]["schemas"]
    routes = [r for r in _routes(app.routes) if isinstance(r, APIRoute)
              and r.path.startswith(("/api/", "/feeds/")) and r.include_in_schema]
    assert {"/api/changes", "/api/sources/{name}/versions",
            "/api/versions/{version_id}/raw"} <= {r.path for r in routes}
    for route in routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # {tag:path} is {tag} there
        assert path in schema["paths"], route.path
        op = schema["paths"][path]["get"]
        documented = {p["name"] for p in op.get("parameters", [])}
        wanted = {p.alias for p in route.dependant.query_params + route.dependant.path_params}
        assert wanted <= documented, (route.path, wanted - documented)
        model = _inner(route.response_model)
        names = _fields(model)
        if names:
            props = components[model.__name__]["properties"]  # type: ignore[attr-defined]
            assert set(props) == names, (route.path, names ^ set(props))
    # nested: a timeline's versions and events, each with their fields
    timeline = components["TimelineOut"]["properties"]
    assert {"page", "versions", "events"} <= set(timeline)
    assert {"number", "last_confirmed"} <= set(components["TimelineEntry"]["properties"])
    assert {"kind", "at", "until", "failures"} <= set(components["PageEvent"]["properties"])


async def test_a_record_hash_recomputes_from_what_the_api_returns(
        store: Store, tmp_path: Path) -> None:
    """A third party given a version by the API (or the manifest) recomputes its record
    hash by README's procedure: the time is in the one form the hash was taken of."""
    built = build_archive(store)
    manifest = tmp_path / "m.jsonl"
    out = Manifest(manifest)
    for v in Archive(store).iter_versions(source=PLAN.name):
        out.add(v)
    out.close()
    listed = {e["version_id"]: e for e in map(json.loads,
                                              manifest.read_text("utf-8").splitlines()[:-1])}
    app = create_app(make_config(), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as client:
        history = (await client.get(f"/api/sources/{PLAN.name}/versions")).json()
        timeline = (await client.get(f"/api/sources/{PLAN.name}/timeline")).json()
        for number, vid in enumerate(built.versions[PLAN.name], 1):
            v = (await client.get(f"/api/versions/{vid}")).json()
            assert v["number"] == number
            assert v["record_format"] == "monitor-record-2"
            assert v["record_hash"] == documented_record_hash(
                v["url"], v["number"], v["fetched_at"], v["raw_sha256"], v["text_sha256"],
                v["metadata"], v["previous_record_hash"], v["title"], v["attachments"])
            assert v["fetched_at"].endswith("+00:00") and "." in v["fetched_at"]
            # the same string wherever the time is given
            assert v["fetched_at"] == listed[vid]["fetched_at"] == \
                history[number - 1]["fetched_at"] == timeline["versions"][number - 1][
                    "fetched_at"]
            assert v["previous_record_hash"] == listed[vid]["previous_record_hash"]
