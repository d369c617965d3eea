"""``monitor alerts list|retry|deliver`` for admins, through the real click command."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import cli
from storage import Store
from storage.alerts_repo import AlertsRepo
from tests.test_alerts_support import SmtpServer, make_change, make_config

WATCHERS = """
[[watchers]]
name = "alice"
email = "alice@example.cn"
sources = ["hn-0192"]

[[watchers]]
name = "bob"
email = "bob@example.cn"
sources = ["hn-0192"]
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_list_failed_and_retry(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    smtp = SmtpServer().start()
    try:
        smtp.sink.reject["bob@example.cn"] = "550 5.1.1 no such user"
        db = tmp_path / "cli.db"
        monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite:///{db}")
        monkeypatch.setenv("MONITOR_SMTP_URL", smtp.url)
        config = make_config(tmp_path, WATCHERS, smtp_url=smtp.url)
        sources = tmp_path / "sources.toml"
        sources.write_text(_sources_text(tmp_path, WATCHERS), encoding="utf-8")
        store = Store(f"sqlite:///{db}")
        make_change(store, config)

        code, out = run("alerts", "deliver", "--sources", str(sources))
        assert code == 0 and "1 sent, 0 retrying, 1 dead" in out and "550" in out

        code, out = run("alerts", "list", "--failed", "--json", "--sources", str(sources))
        [dead] = json.loads(out)
        assert dead["recipient"] == "bob@example.cn" and dead["status"] == "dead"
        assert "550" in dead["last_error"]

        code, out = run("alerts", "list", "--sources", str(sources))
        assert code == 0 and "alice@example.cn" in out and "dead" in out

        smtp.sink.reject.clear()
        code, out = run("alerts", "retry", str(dead["id"]), "--sources", str(sources))
        assert code == 0 and "1 alert(s) pending again" in out
        assert AlertsRepo(store).get(dead["id"]).status == "pending"
        code, out = run("alerts", "deliver", "--sources", str(sources))
        assert "1 sent" in out
        assert sorted(m["To"] for m in smtp.sink.parsed()) == ["alice@example.cn",
                                                               "bob@example.cn"]
        code, out = run("alerts", "retry", "--all", "--sources", str(sources))
        assert "0 alert(s) pending again" in out
        code, out = run("alerts", "retry", "--sources", str(sources))
        assert code == 2  # IDs or --all
        store.close()
    finally:
        smtp.stop()


def _sources_text(tmp_path: Path, watchers: str) -> str:
    from tests.test_alerts_support import URL

    return f"""[settings]
allow_private_network = true
outbox_dir = "{tmp_path / 'outbox'}"

[[sources]]
name = "hn-0192"
url = "{URL}"
tags = ["hunan"]
{watchers}"""
