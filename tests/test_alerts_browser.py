"""One alert email rendered in headless Chromium, the way a webmail client would show it.

The screenshot is kept at /tmp/alert-email.png for a person to look at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from alerts.compose import Composer
from monitor.settings import Settings
from tests.conftest import service_missing
from tests.test_alerts_compose import HOSTILE, version, view
from tests.test_alerts_support import NEW_TEXT, OLD_TEXT

CHROMIUM = os.environ.get("MONITOR_CHROMIUM", "/usr/bin/chromium")
SHOT = Path("/tmp/alert-email.png")

pytestmark = pytest.mark.browser


def test_the_email_renders_with_marked_changes_and_no_script_runs() -> None:
    if not Path(CHROMIUM).exists():
        service_missing(f"headless Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    new = NEW_TEXT.replace("联系人：张三", "联系人：李四\n" + HOSTILE)
    old = version(1, OLD_TEXT, 文号="湘工信提案函〔2021〕254号")
    msg = Composer(Settings()).change(
        view(old, version(2, new, 文号="湘工信提案函〔2021〕255号")), "alice@example.cn")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 820, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.set_content(msg.html, wait_until="load")
            page.screenshot(path=str(SHOT), full_page=True)
            ins = page.eval_on_selector_all("ins", "els => els.map(e => e.textContent)")
            dels = page.eval_on_selector_all("del", "els => els.map(e => e.textContent)")
            ran = page.evaluate("() => [window.x, window.y, document.title]")
            text = page.inner_text("body")
        finally:
            browser.close()
    assert "5000" in ins and "3000" in dels  # the changed amount, whole
    assert "李四" in "".join(ins) and "张三" in "".join(dels)
    assert ran[0] is None and ran[1] is None and ran[2] == msg.subject
    assert '<script>window.x=1;document.title="pwned"</script>' in text  # shown, not run
    assert not [u for u in requests if re.match(r"https?://", u)]  # nothing remote loaded
    assert SHOT.stat().st_size > 5000
