"""In a real browser: the header badge loads htmx from the local vendor folder, polls every 10 s
and shows a notification created meanwhile; the list opens it and the badge goes back to zero.
Then quiet hours are set on the settings page. Screenshots: var/screenshots/notifications.png and
notification-settings.png."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from gongzhi.accounts.models import Role, User
from gongzhi.notifications import services
from gongzhi.registry import models as reg

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "e2e-password-2026"


def _in_thread(fn):
    """Database work while Playwright's event loop runs on this thread goes to another thread."""
    out = []

    def run():
        try:
            out.append(fn())
        finally:
            connection.close()

    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    return out[0]


@pytest.fixture
def duty_officer():
    qp = reg.Bureau.objects.create(code="qingpu", name="青浦区生态环境局", short_name="青浦")
    return User.objects.create_user(username="e2e-duty", password=PASSWORD, bureau=qp, role=Role.EMERGENCY_DUTY_OFFICER)


def test_badge_polls_and_the_list_marks_read(live_server, duty_officer, browser_page, screenshot_dir):
    user = duty_officer
    page = browser_page
    badge_requests = []
    page.on("request", lambda r: badge_requests.append(r.url) if "/notifications/badge/" in r.url else None)
    page.goto(f"{live_server.url}/notifications/")
    page.fill("input[name=username]", "e2e-duty")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/notifications/")
    assert page.locator("#notification-badge [data-unread]").count() == 0
    assert page.evaluate("typeof window.htmx") == "object"  # loaded by the badge from /static/vendor

    _in_thread(lambda: services.notify(
        recipients=[user], kind="warning.downstream", subject="上游来水预警：急水港氨氮超标",
        body="预计 14:20 到达青浦急水港交界断面", link="/notifications/settings/", ref="alarm:1", urgent=True))
    page.wait_for_selector("#notification-badge [data-unread='1']", timeout=15_000)
    assert len(badge_requests) == 1  # one poll in ~10 s: htmx is not loaded twice

    page.reload()
    assert page.locator("tr[data-notification]").count() == 1
    page.screenshot(path=str(screenshot_dir / "notifications.png"), full_page=True)
    page.click("text=上游来水预警：急水港氨氮超标")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/notifications/settings/")
    assert page.locator("#notification-badge [data-unread]").count() == 0
    assert _in_thread(lambda: services.unread_count(user=user)) == 0

    # the settings page it linked to: quiet hours across midnight, saved through the form
    page.fill("input[name=start]", "22:00")
    page.fill("input[name=end]", "07:00")
    page.click("form:has(input[value=quiet]) button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("text=免打扰时段已保存").count() == 1
    page.screenshot(path=str(screenshot_dir / "notification-settings.png"), full_page=True)
    quiet = _in_thread(lambda: (user.quiet_hours.start.strftime("%H:%M"), user.quiet_hours.end.strftime("%H:%M")))
    assert quiet == ("22:00", "07:00")
    assert page.js_errors == []
