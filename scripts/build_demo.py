"""Write the pages of ``monitor demo`` (monitor/demo/site/) from the seed texts.

The demo ships these files as package data so that it needs nothing from tests/; this
script is how they were made (``python scripts/build_demo.py`` from the repository root,
then commit the files).  Each page is a real reply or plan (tests/fixtures/seeds) in a
typical government CMS template (tests/pages.py): GBK and UTF-8, a view counter, the
date bar, share and vote widgets.  ``COUNTER`` marks the view count, which the demo
server replaces on every request (noise that must never be an alert).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.demo import COUNTER  # noqa: E402
from tests.pages import seed  # noqa: E402
from tests.pages import seed_page as _seed_page  # noqa: E402
from tests.retemplate import reply_page  # noqa: E402

OUT = ROOT / "monitor" / "demo" / "site"
ADDED = "省科技厅会同省财政厅每年对规划实施情况开展一次评估，评估结果向社会公开。"


def seed_page(n: int, **kw: object) -> bytes:
    return _seed_page(n, counter=int(COUNTER), **kw)  # type: ignore[arg-type]


def listing(items: list[tuple[str, str, str]]) -> bytes:
    rows = "\n".join(f'    <li><a href="{href}" target="_blank">{title}</a>'
                     f"<span>{day}</span></li>" for href, title, day in items)
    return (f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>建议提案办理_湖南省工业和信息化厅</title></head>
<body>
<div class="top">今天是2026年11月22日 <a href="/">首页</a> 访问量：<span>{COUNTER}</span></div>
<div class="crumb">当前位置：首页 &gt; 信息公开 &gt; 建议提案办理</div>
<ul class="list">
{rows}
</ul>
<div class="page">共{len(items)}条 1/1</div>
<div class="footer">主办单位：湖南省工业和信息化厅</div>
</body></html>
""").encode()


def main() -> None:
    plan = seed(3).paragraphs
    anchor = next(p for p in plan if "保障措施" in p) if any(
        "保障措施" in p for p in plan) else plan[-1]
    old_reply = ("t20210624_254.html", seed(1).title, "2021-06-24")
    new_reply = ("t20211103_255.html", seed(2).title, "2021-11-03")
    files = {
        "plan-1.html": seed_page(3),
        "plan-2.html": seed_page(3, edit=lambda ps: _after(ps, anchor, ADDED)),
        "wh-1.html": seed_page(1, encoding="gbk"),
        "wh-2.html": seed_page(1, encoding="gbk", edit=("2000万元", "2500万元")),
        "column-1.html": listing([old_reply]),
        "column-2.html": listing([new_reply, old_reply]),
        "reply-254.html": seed_page(1),
        "reply-255.html": seed_page(2),
        "proposal.html": seed_page(2, encoding="gbk"),
        "reply-0192-1.html": reply_page(1).replace("</h1>", f"</h1><p>浏览次数：{COUNTER}</p>")
        .encode(),
        "reply-0192-2.html": reply_page(2).replace("</h1>", f"</h1><p>阅读：{COUNTER}次</p>")
        .encode(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (OUT / name).write_bytes(body)
        print(f"{name}: {len(body)} bytes")


def _after(paragraphs: list[str], anchor: str, added: str) -> list[str]:
    k = paragraphs.index(anchor)
    return [*paragraphs[:k + 1], added, *paragraphs[k + 1:]]


if __name__ == "__main__":
    main()
