"""Webhook alerts against a real HTTP receiver on loopback: each chat format's body, the
signatures (recomputed here from the published algorithms), and failure handling."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts.delivery import Deliverer
from storage import Store
from storage.alerts_repo import AlertsRepo
from tests.sites import Request, Response, Site
from tests.test_alerts_support import URL, make_change, make_config

SECRET = "SEC0123456789abcdef"
ENV = {"HOOK_SECRET": SECRET}
HOSTILE = "答复 [点我](http://evil.example) <!channel> **粗体**"


def hook(url: str, fmt: str, secret: bool = False) -> str:
    ENV["HOOK_URL"] = url  # it holds an access_token: the file names the variable
    return f"""
[[watchers]]
name = "{fmt}-room"
webhook_env = "HOOK_URL"
webhook_format = "{fmt}"
sources = ["hn-0192"]
""" + ('webhook_secret_env = "HOOK_SECRET"\n' if secret else "")


class Receiver:
    """Captures each POST; answers with ``reply`` (JSON) or a bare status."""

    def __init__(self, site: Site, reply: dict[str, Any] | None = None, status: int = 200):
        self.got: list[Request] = []
        self.reply, self.status = reply or {}, status
        self.url = site.route("/hook", self.answer) + "?access_token=tok"

    def answer(self, req: Request) -> Response:
        self.got.append(req)
        return Response(json.dumps(self.reply), status=self.status,
                        headers={"Content-Type": "application/json"})

    def body(self) -> dict[str, Any]:
        [req] = self.got
        return json.loads(req.body)


async def deliver(store: Store, tmp_path: Path, watchers: str, **kw: Any) -> str:
    config = make_config(tmp_path, watchers, env={})
    make_change(store, config, **kw)
    return (await Deliverer(config, store, env=ENV).deliver_due()).describe()


async def test_generic_json_is_signed_over_the_exact_body(store: Store, site: Site,
                                                          tmp_path: Path) -> None:
    rx = Receiver(site)
    assert await deliver(store, tmp_path, hook(rx.url, "generic", True)) == (
        "1 sent, 0 retrying, 0 dead")
    [req] = rx.got
    expected = hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
    assert req.headers["x-monitor-signature"] == f"sha256={expected}"
    assert req.headers["content-type"].startswith("application/json")
    data = rx.body()
    assert data["event"] == "change" and data["url"] == URL
    assert req.headers["x-monitor-delivery"] == data["message_id"]
    assert abs(data["timestamp"] - time.time()) < 600
    assert data["data"]["kind"] == "changed" and data["data"]["stats"] == {"added": 1,
                                                                          "removed": 1}
    assert "安排专项资金[-3000-]{+5000+}万元" in data["data"]["diff"]


async def test_generic_without_a_secret_has_no_signature(store: Store, site: Site,
                                                         tmp_path: Path) -> None:
    rx = Receiver(site)
    await deliver(store, tmp_path, hook(rx.url, "generic"))
    assert "x-monitor-signature" not in rx.got[0].headers


async def test_dingtalk_markdown_with_timestamp_and_sign(store: Store, site: Site,
                                                         tmp_path: Path) -> None:
    rx = Receiver(site, {"errcode": 0, "errmsg": "ok"})
    assert (await deliver(store, tmp_path, hook(rx.url, "dingtalk", True),
                          new_title=HOSTILE)).startswith("1 sent")
    [req] = rx.got
    query = parse_qs(urlsplit(req.path).query)
    ts = query["timestamp"][0]
    mac = hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert query["sign"] == [base64.b64encode(mac).decode()]
    assert query["access_token"] == ["tok"]
    body = rx.body()
    assert body["msgtype"] == "markdown"
    text = body["markdown"]["text"]
    assert "hn-0192" in text and "正文修改" in text and f"({URL})" in text
    assert r"\[点我\](http://evil.example)" in text  # page text cannot become a link


@pytest.mark.parametrize(("errcode", "outcome"), [(310000, "0 sent, 0 retrying, 1 dead"),
                                                  (130101, "0 sent, 1 retrying, 0 dead")])
async def test_dingtalk_errcode_in_a_200_reply_is_a_failure(
        store: Store, site: Site, tmp_path: Path, errcode: int, outcome: str) -> None:
    rx = Receiver(site, {"errcode": errcode, "errmsg": "keywords not in content"})
    assert await deliver(store, tmp_path, hook(rx.url, "dingtalk")) == outcome
    [row] = AlertsRepo(store).list()
    assert f"DingTalk error {errcode}" in (row.last_error or "")


async def test_wecom_markdown_fits_its_byte_limit(store: Store, site: Site,
                                                  tmp_path: Path) -> None:
    rx = Receiver(site, {"errcode": 0, "errmsg": "ok"})
    long_new = "\n".join(f"第{i}段：新的内容，篇幅很长很长很长。" for i in range(400))
    assert (await deliver(store, tmp_path, hook(rx.url, "wecom"), new=long_new)).startswith(
        "1 sent")
    body = rx.body()
    assert body["msgtype"] == "markdown"
    assert len(body["markdown"]["content"].encode()) <= 4096
    assert "hn-0192" in body["markdown"]["content"]


async def test_wecom_errcode_is_dead(store: Store, site: Site, tmp_path: Path) -> None:
    rx = Receiver(site, {"errcode": 93000, "errmsg": "invalid webhook url"})
    assert await deliver(store, tmp_path, hook(rx.url, "wecom")) == "0 sent, 0 retrying, 1 dead"


async def test_feishu_post_signed_in_the_body(store: Store, site: Site,
                                              tmp_path: Path) -> None:
    rx = Receiver(site, {"code": 0, "msg": "success", "data": {}})
    assert (await deliver(store, tmp_path, hook(rx.url, "feishu", True),
                          new_title=HOSTILE)).startswith("1 sent")
    body = rx.body()
    key = f"{body['timestamp']}\n{SECRET}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "post"
    post = body["content"]["post"]["zh_cn"]
    assert HOSTILE in post["title"]
    runs = [run for row in post["content"] for run in row]
    assert {"tag": "a", "text": "查看原文", "href": URL} in runs
    assert any("安排专项资金[-3000-]{+5000+}万元" in run.get("text", "") for run in runs)


async def test_feishu_code_in_a_200_reply_is_a_failure(store: Store, site: Site,
                                                       tmp_path: Path) -> None:
    rx = Receiver(site, {"code": 19021, "msg": "sign match fail or timestamp is not within "
                                               "one hour from current time"})
    assert await deliver(store, tmp_path, hook(rx.url, "feishu")) == "0 sent, 0 retrying, 1 dead"


async def test_slack_blocks_escape_mentions_and_links(store: Store, site: Site,
                                                      tmp_path: Path) -> None:
    rx = Receiver(site)
    await deliver(store, tmp_path, hook(rx.url, "slack"), new_title=HOSTILE)
    body = rx.body()
    assert "&lt;!channel&gt;" in body["text"] and "<!channel>" not in json.dumps(body)
    assert body["blocks"][0]["type"] == "header"
    texts = " ".join(b["text"]["text"] for b in body["blocks"][1:])
    assert f"<{URL}|查看原文>" in texts and "安排专项资金[-3000-]{+5000+}万元" in texts


@pytest.mark.parametrize(("status", "outcome"), [
    (500, "0 sent, 1 retrying, 0 dead"), (503, "0 sent, 1 retrying, 0 dead"),
    (429, "0 sent, 1 retrying, 0 dead"), (404, "0 sent, 0 retrying, 1 dead"),
    (400, "0 sent, 0 retrying, 1 dead")])
async def test_http_status_decides_retry_or_dead(store: Store, site: Site, tmp_path: Path,
                                                 status: int, outcome: str) -> None:
    rx = Receiver(site, status=status)
    assert await deliver(store, tmp_path, hook(rx.url, "generic")) == outcome
    assert f"HTTP {status}" in (AlertsRepo(store).list()[0].last_error or "")


async def test_an_unreachable_webhook_is_retried(store: Store, tmp_path: Path) -> None:
    from tests.test_alerts_support import free_port

    url = f"http://127.0.0.1:{free_port()}/hook"
    assert await deliver(store, tmp_path, hook(url, "generic")) == "0 sent, 1 retrying, 0 dead"


async def test_a_private_webhook_address_is_refused_unless_allowed(
        store: Store, site: Site, tmp_path: Path) -> None:
    rx = Receiver(site)
    config = make_config(tmp_path, hook(rx.url, "generic"), env={})
    strict = config.settings.model_copy(update={"allow_private_network": False})
    config = replace(config, settings=strict)
    make_change(store, config)
    report = await Deliverer(config, store, env=ENV).deliver_due()
    assert report.describe() == "0 sent, 0 retrying, 1 dead" and not rx.got
    assert "refused" in (AlertsRepo(store).list()[0].last_error or "")


async def test_a_secret_that_went_missing_is_never_sent_unsigned(store: Store, site: Site,
                                                                 tmp_path: Path) -> None:
    rx = Receiver(site)
    config = make_config(tmp_path, hook(rx.url, "generic", True), env={})
    make_change(store, config)
    deliverer = Deliverer(config, store, env=dict(ENV))
    deliverer.env = {"HOOK_URL": ENV["HOOK_URL"]}  # the secret was removed after start-up
    assert (await deliverer.deliver_due()).describe() == "0 sent, 1 retrying, 0 dead"
    assert not rx.got and "HOOK_SECRET" in (AlertsRepo(store).list()[0].last_error or "")
