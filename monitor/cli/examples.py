"""An example for every command, shown at the end of its ``--help``.

Kept here, in one table, rather than in each command's docstring: the table is easy to
review as a whole, and ``monitor.cli.LazyGroup`` adds each example as the command's
epilog when the command is loaded, so that it comes after the options, as in every
command's help (an example in a docstring would come before them).
"""

from __future__ import annotations

import click

EXAMPLES: dict[str, tuple[str, ...]] = {
    "alerts": ("monitor alerts list --failed", "monitor alerts retry --all"),
    "sources": ("monitor sources validate", "monitor sources test hb-ai-plan",
                "monitor sources add https://www.example.gov.cn/a.html --name a"),
    "alerts list": ("monitor alerts list --failed",
                    "monitor alerts list --pending",
                    "monitor alerts list --limit 20 --json"),
    "alerts retry": ("monitor alerts retry 41 42", "monitor alerts retry --all"),
    "alerts deliver": ("monitor alerts deliver",),
    "check": ("monitor check",
              "monitor check --source 'hn-*' --no-deliver",
              "monitor check --json > check.json      # cron: no progress bar when piped"),
    "diff": ("monitor diff 17 18",
             "monitor diff hb-ai-plan --from 2026-05-01 --to 2026-06-01",
             "monitor diff hb-ai-plan --from 第2版 --to 第5版",
             "monitor diff hb-ai-plan --html changes.html"),
    "export": ("monitor export --source hb-ai-plan --warc hb.warc.gz",
               "monitor export --from 2026-01-01 --jsonl 2026.jsonl",
               "monitor export --warc all.warc.gz --manifest all.manifest.jsonl"),
    "history": ("monitor history hb-ai-plan",
                "monitor history hn-gxt-replies --documents --json"),
    "run": ("monitor run", "MONITOR_DATABASE_URL=postgresql://db/monitor monitor run "
            "--log-json"),
    "search": ("monitor search 人工智能 --tag hubei",
               "monitor search 答复 --from 2026-01-01 --json"),
    "demo": ("monitor demo                    # a temporary directory, a change every 20 s",
             "monitor demo --dir demo --step 5"),
    "serve": ("monitor serve", "MONITOR_WEB_TOKEN=… monitor serve --host 0.0.0.0 --port 8080",
              "MONITOR_ADMIN_TOKEN=$(openssl rand -hex 24) monitor serve --admin"),
    "show": ("monitor show hb-ai-plan --at 2026-05-01", "monitor show 18 --raw > page.html"),
    "sources add": ("monitor sources add https://www.example.gov.cn/a.html --name a "
                    "--content div.article --interval 1d --tags hubei,plan",),
    "sources import": ("monitor sources import ~/.config/urlwatch/urls.yaml",
                       "monitor sources import changedetection-backup-20260101.zip --no-test",
                       "monitor sources import urls.txt"),
    "sources list": ("monitor sources list", "monitor sources list --json"),
    "sources remove": ("monitor sources remove hb-ai-plan",),
    "sources test": ("monitor sources test hb-ai-plan",
                     "monitor sources test https://www.example.gov.cn/a.html --json"),
    "verify": ("monitor verify", "monitor verify hb-ai-plan hn-gxt-replies --json"),
    "sources validate": ("monitor sources validate --sources /etc/monitor/sources.toml",),
    "status": ("monitor status", "monitor status --all",
               "monitor status --json | jq '.sources[] | select(.status != \"ok\")'",
               "monitor status --json | jq .health.status"),
}


def add_examples(cmd: click.Command, path: str) -> None:
    """``cmd`` (and, for a group, its commands) with its example as the epilog."""
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            add_examples(sub, f"{path} {name}")
    lines = EXAMPLES.get(path)
    if lines and not cmd.epilog:
        title = "Example:" if len(lines) == 1 else "Examples:"
        cmd.epilog = "\b\n" + title + "\n" + "\n".join(f"  {line}" for line in lines)
