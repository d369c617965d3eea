"""Apprise alerts (``apprise_env``) against a real HTTP receiver on loopback: Apprise's
own ``json://``, ``form://`` and ``ntfy://`` services POST to it, through the outbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from alerts.delivery import Deliverer
from alerts.registry import check_alerting
from storage import Store
from storage.alerts_repo import AlertsRepo
from tests.sites import Request, Response, Site
from tests.test_alerts_support import URL, later, make_change, make_config

WATCHER = """
[[watchers]]
name = "phone"
apprise_env = "PHONE_URL"
sources = ["hn-0192"]
"""
HOSTILE = "答复 <b>粗体</b> [点我](http://evil.example)"


class Receiver:
    """Records each POST; answers ``status`` (changeable while it runs)."""

    def __init__(self, site: Site, status: int = 200) -> None:
        self.got: list[Request] = []
        self.status = status
        site.route("/notify", self.answer)
        site.route("/", self.answer)  # ntfy posts the topic in the body
        self.host = site.base.removeprefix("http://")

    def answer(self, req: Request) -> Response:
        self.got.append(req)
        return Response('{"ok": true}', status=self.status,
                        headers={"Content-Type": "application/json"})


def fields(req: Request) -> dict[str, Any]:
    """What an Apprise service posted: JSON, or an HTML form."""
    if req.headers.get("content-type", "").startswith("application/json"):
        return json.loads(req.body)
    return {k: v[0] for k, v in parse_qs(req.body.decode()).items()}


@pytest.mark.parametrize(("scheme", "body_key"), [("json", "message"), ("form", "message"),
                                                  ("ntfy", "message")])
async def test_an_apprise_service_gets_the_change(store: Store, site: Site, tmp_path: Path,
                                                  scheme: str, body_key: str) -> None:
    rx = Receiver(site)
    env = {"PHONE_URL": f"{scheme}://{rx.host}/notify"}  # ntfy: "notify" is the topic
    config = make_config(tmp_path, WATCHER)
    make_change(store, config, new_title=HOSTILE)
    report = await Deliverer(config, store, env=env).deliver_due()
    assert report.describe() == "1 sent, 0 retrying, 0 dead", report.errors
    [req] = rx.got
    got = fields(req)
    assert HOSTILE in got["title"]  # the page's title, as text
    body = got[body_key]
    assert "正文修改" in body and "hn-0192" in body and URL in body
    assert "[-3000-]{+5000+}" in body
    assert "env:" not in body and "PHONE_URL" not in body  # no internal names for a reader
    [row] = AlertsRepo(store).list()
    assert (row.status, row.channel, row.recipient) == ("sent", "apprise", "env:PHONE_URL")


async def test_a_failing_service_is_retried_with_its_reason(store: Store, site: Site,
                                                            tmp_path: Path) -> None:
    rx = Receiver(site, status=500)
    env = {"PHONE_URL": f"json://{rx.host}/notify"}
    config = make_config(tmp_path, WATCHER)
    make_change(store, config)
    report = await Deliverer(config, store, env=env).deliver_due()
    assert report.describe() == "0 sent, 1 retrying, 0 dead"
    [row] = AlertsRepo(store).list()
    assert row.status == "pending" and "Apprise" in (row.last_error or "")
    assert "500" in (row.last_error or "")
    rx.status = 200  # the service is back: the retry goes through, once
    again = await Deliverer(config, store, env=env, clock=later(1)).deliver_due()
    assert again.describe() == "1 sent, 0 retrying, 0 dead"
    assert len(rx.got) == 2
    done = await Deliverer(config, store, env=env, clock=later(2)).deliver_due()
    assert done.describe() == "0 sent, 0 retrying, 0 dead"  # nothing left to send
    assert AlertsRepo(store).list()[0].status == "sent"


async def test_the_url_comes_from_the_environment_only(store: Store, tmp_path: Path) -> None:
    config = make_config(tmp_path, WATCHER)
    [warning] = check_alerting(config, env={})
    assert "apprise_env names PHONE_URL" in warning and "not set" in warning
    [bad] = check_alerting(config, env={"PHONE_URL": "nosuchservice://x"})
    assert "not an Apprise URL" in bad and "://x" not in bad  # the URL is never said
    make_change(store, config)
    unset = await Deliverer(config, store, env={}).deliver_due()
    assert unset.describe() == "0 sent, 1 retrying, 0 dead"  # set it, and it goes
    wrong = await Deliverer(config, store, env={"PHONE_URL": "nosuchservice://x"},
                            clock=later(1)).deliver_due()
    assert wrong.describe() == "0 sent, 0 retrying, 1 dead"
    [row] = AlertsRepo(store).list()
    assert "not an Apprise URL" in (row.last_error or "")


def test_an_apprise_url_in_the_file_is_refused(tmp_path: Path) -> None:
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match=r"apprise_env.*environment variable"):
        make_config(tmp_path, WATCHER.replace('"PHONE_URL"', '"tgram://123:abc/456"'))
