"""DingTalk robots as they behave: a fake robot on loopback that checks the 加签
signature and the robot's keyword the way DingTalk does (errcode 310000 with its own
errmsg) and records when each message arrives, to hold us to the per-robot rate."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts.delivery import Deliverer
from storage import Store
from storage.alerts_repo import AlertsRepo
from storage.instant import utcnow
from tests.sites import Request, Response, Site
from tests.test_alerts_support import make_change, make_config

SECRET = "SECdingtalk0123456789"


class Robot:
    """A DingTalk custom robot: 加签 with ``secret``, and/or a required ``keyword``."""

    def __init__(self, site: Site, *, secret: str | None = None,
                 keyword: str | None = None) -> None:
        self.secret, self.keyword = secret, keyword
        self.arrivals: list[float] = []  # time.monotonic() of each accepted message
        self.lock = threading.Lock()
        self.url = site.route("/robot/send", self.answer) + "?access_token=tok"

    def answer(self, req: Request) -> Response:
        query = parse_qs(urlsplit(req.path).query)
        md = json.loads(req.body)["markdown"]
        text = md.get("text") or md.get("content", "")  # DingTalk's / WeCom's
        if self.secret is not None:
            ts = query.get("timestamp", [""])[0]
            mac = hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(),
                           hashlib.sha256).digest()
            if query.get("sign") != [base64.b64encode(mac).decode()]:
                return self.reply(310000, "sign not match, more: [https://ding-doc.dingtalk"
                                  ".com/doc#/serverapi2/qf2nxq]")
        if self.keyword is not None and self.keyword not in text:
            return self.reply(310000, "keywords not in content, more: [https://ding-doc"
                              ".dingtalk.com/doc#/serverapi2/qf2nxq]")
        with self.lock:
            self.arrivals.append(time.monotonic())
        return self.reply(0, "ok")

    @staticmethod
    def reply(code: int, msg: str) -> Response:
        return Response(json.dumps({"errcode": code, "errmsg": msg}),
                        headers={"Content-Type": "application/json"})


@pytest.fixture
def site2() -> Iterator[Site]:
    s = Site("127.0.0.2")  # another robot, on another host
    yield s
    s.close()


def room(n: int, secret: bool = False, app: str = "dingtalk") -> str:
    """Watcher ``n`` of one robot: its own variable (same URL), so its own outbox row."""
    return f"""
[[watchers]]
name = "room{n}"
webhook_env = "ROBOT{n}"
webhook_format = "{app}"
sources = ["hn-0192"]
""" + ('webhook_secret_env = "ROBOT_SECRET"\n' if secret else "")


@pytest.mark.parametrize("app", ["dingtalk", "wecom"])  # both take 20 a minute per robot
async def test_a_robot_gets_at_most_its_rate_per_window_and_nothing_is_dropped(
        store: Store, site: Site, tmp_path: Path, app: str) -> None:
    robot, n, rate, window = Robot(site), 8, 3, 1.5
    config = make_config(tmp_path, "".join(room(i, app=app) for i in range(n)),
                         settings=f"{app}_rate = {rate}\n{app}_window = {window}\n")
    env = {f"ROBOT{i}": robot.url for i in range(n)}
    make_change(store, config)
    deliverer = Deliverer(config, store, env=env)
    queued = sent = 0
    deadline = time.monotonic() + 30
    while sent < n and time.monotonic() < deadline:
        report = await deliverer.deliver_due()
        assert report.retrying == report.dead == 0, report.errors
        queued, sent = queued + report.deferred, sent + report.sent
        await asyncio.sleep(0.05)
    assert sent == n and len(robot.arrivals) == n  # queued, not dropped
    assert queued > 0  # some waited in the outbox for the robot to have room
    times = sorted(robot.arrivals)
    # no window of `window` seconds holds more than `rate` messages (a little slack for
    # the network between the limiter and the robot)
    assert all(times[i + rate] - times[i] >= window - 0.2 for i in range(n - rate)), times
    rows = AlertsRepo(store).list()
    assert {r.status for r in rows} == {"sent"}
    assert {r.attempts for r in rows} == {1}  # waiting for room is no failed attempt


async def test_two_robots_do_not_wait_for_each_other(store: Store, site: Site, site2: Site,
                                                     tmp_path: Path) -> None:
    one, other = Robot(site), Robot(site2)
    config = make_config(tmp_path, room(0) + room(1),
                         settings="dingtalk_rate = 1\ndingtalk_window = 60\n")
    make_change(store, config)
    report = await Deliverer(config, store, env={"ROBOT0": one.url,
                                                 "ROBOT1": other.url}).deliver_due()
    assert report.describe() == "2 sent, 0 retrying, 0 dead"


async def test_a_bad_signature_is_a_failed_delivery_with_the_robots_reason(
        store: Store, site: Site, tmp_path: Path) -> None:
    robot = Robot(site, secret=SECRET)
    config = make_config(tmp_path, room(0, secret=True))
    make_change(store, config)
    env = {"ROBOT0": robot.url, "ROBOT_SECRET": "SECwrong"}
    report = await Deliverer(config, store, env=env).deliver_due()
    assert report.describe() == "0 sent, 0 retrying, 1 dead"
    [row] = AlertsRepo(store).list(failed=True)
    assert "DingTalk error 310000" in (row.last_error or "")
    assert "sign not match" in (row.last_error or "")
    assert robot.arrivals == []
    AlertsRepo(store).retry(None)  # the admin fixes the secret and retries
    env["ROBOT_SECRET"] = SECRET
    again = await Deliverer(config, store, env=env).deliver_due()
    assert again.describe() == "1 sent, 0 retrying, 0 dead" and len(robot.arrivals) == 1


async def test_a_message_without_the_robots_keyword_is_refused_with_its_reason(
        store: Store, site: Site, site2: Site, tmp_path: Path) -> None:
    refuses, accepts = Robot(site, keyword="机器人关键词"), Robot(site2, keyword="答复")
    config = make_config(tmp_path, room(0) + room(1))
    make_change(store, config)
    report = await Deliverer(config, store, env={"ROBOT0": refuses.url,
                                                 "ROBOT1": accepts.url}).deliver_due()
    assert report.describe() == "1 sent, 0 retrying, 1 dead"
    [row] = AlertsRepo(store).list(failed=True)
    assert row.watcher == "room0" and "keywords not in content" in (row.last_error or "")
    assert len(accepts.arrivals) == 1 and refuses.arrivals == []


async def test_a_robot_without_room_for_long_keeps_the_alert_queued_in_the_outbox(
        store: Store, site: Site, tmp_path: Path) -> None:
    robot = Robot(site)
    config = make_config(tmp_path, room(0) + room(1),
                         settings="dingtalk_rate = 1\ndingtalk_window = 600\n")
    make_change(store, config)
    env = {"ROBOT0": robot.url, "ROBOT1": robot.url}
    report = await Deliverer(config, store, env=env).deliver_due()
    assert report.describe() == "1 sent, 0 retrying, 0 dead, 1 queued"
    [waiting] = [r for r in AlertsRepo(store).list() if r.status != "sent"]
    # pending, no error, no attempt spent, due when the robot has room (10 min on)
    assert (waiting.status, waiting.last_error, waiting.attempts) == ("pending", None, 0)
    wait = (waiting.next_attempt_at.replace(tzinfo=None) - utcnow().replace(tzinfo=None))
    assert 500 < wait.total_seconds() <= 600
    assert len(robot.arrivals) == 1
