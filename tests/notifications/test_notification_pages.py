"""The notification list (zh default, English), mark read, the header badge polled by htmx,
the settings page, and the admin entries for webhook endpoints and deliveries."""

from __future__ import annotations

import datetime as dt

import pytest

from gongzhi.accounts.models import Role, User
from gongzhi.notifications import services
from gongzhi.notifications.models import Notification, QuietHours, Subscription, WebhookEndpoint

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)


def _alarm(users, ref="alarm:42", link="/alerts/42/", **kw):
    return services.notify(recipients=users, kind="alarm.opened", subject="急水港断面氨氮超标", body="氨氮 2.31 mg/L",
                           subject_en="Ammonia exceeds the class III limit", link=link, ref=ref, now=NOW, **kw)


def test_pages_need_a_signed_in_user(client, db):
    for path in ("/notifications/", "/notifications/settings/"):
        assert client.get(path).status_code == 302
    badge = client.get("/notifications/badge/")
    assert badge.status_code == 286  # htmx stops polling instead of swapping in the login page


def test_list_shows_only_my_notifications_in_chinese_then_english(client, people):
    _alarm([people["qp_duty"]])
    services.notify(recipients=[people["ks_duty"]], kind="alarm.opened", subject="昆山的告警", body="", now=NOW)
    client.force_login(people["qp_duty"])
    page = client.get("/notifications/").content.decode()
    assert "急水港断面氨氮超标" in page and "昆山的告警" not in page
    assert "1 条未读" in page and "告警触发" in page
    client.cookies["django_language"] = "en"
    page = client.get("/notifications/").content.decode()
    assert "Ammonia exceeds the class III limit" in page and "1 unread" in page
    assert "Notifications" in page and "Alarm opened" in page


def test_mark_selected_and_all_read(client, people):
    first = _alarm([people["qp_duty"]])[0]
    _alarm([people["qp_duty"]], ref="alarm:43")
    other = _alarm([people["ks_duty"]], ref="alarm:44")[0]
    client.force_login(people["qp_duty"])
    r = client.post("/notifications/read/", {"id": [first.pk, other.pk], "next": "/notifications/?unread=1"})
    assert r.status_code == 302 and r["Location"] == "/notifications/?unread=1"
    assert services.unread_count(user=people["qp_duty"]) == 1
    assert Notification.objects.get(pk=other.pk).read_at is None
    r = client.post("/notifications/read/", {"all": "1", "next": "https://evil.example/"})
    assert r["Location"] == "/notifications/"  # no redirect off the site
    assert services.unread_count(user=people["qp_duty"]) == 0
    assert client.get("/notifications/read/").status_code == 405


def test_open_marks_read_and_follows_only_safe_links(client, people):
    good = _alarm([people["qp_duty"]])[0]
    bad = _alarm([people["qp_duty"]], ref="alarm:9", link="javascript:alert(1)")[0]
    theirs = _alarm([people["ks_duty"]], ref="alarm:10")[0]
    client.force_login(people["qp_duty"])
    r = client.get(f"/notifications/{good.pk}/open/")
    assert r.status_code == 302 and r["Location"] == "/alerts/42/"
    assert Notification.objects.get(pk=good.pk).read_at is not None
    assert client.get(f"/notifications/{bad.pk}/open/")["Location"] == "/notifications/"
    assert client.get(f"/notifications/{theirs.pk}/open/").status_code == 404
    assert client.get(f"/notifications/{2**70}/open/").status_code == 404
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_badge_in_the_page_header_polls_the_count(client, people):
    client.force_login(people["qp_duty"])
    page = client.get("/notifications/settings/").content.decode()
    assert 'id="notification-badge"' in page and 'hx-trigger="every 10s"' in page and 'hx-get="/notifications/badge/"' in page
    assert "data-unread" not in page
    assert "vendor/htmx.org/htmx.min.js" in page  # loaded locally when the page has no htmx of its own
    _alarm([people["qp_duty"]])
    _alarm([people["qp_duty"]], ref="alarm:43")
    badge = client.get("/notifications/badge/")
    assert badge.status_code == 200 and badge["Cache-Control"] == "no-store"
    assert 'data-unread="2"' in badge.content.decode() and 'hx-swap="outerHTML"' in badge.content.decode()
    services.mark_read(user=people["qp_duty"], notification_ids="all")
    assert "data-unread" not in client.get("/notifications/badge/").content.decode()


def test_badge_caps_at_99(client, people):
    for i in range(101):
        _alarm([people["qp_duty"]], ref=f"alarm:{i}")
    client.force_login(people["qp_duty"])
    assert ">99+<" in client.get("/notifications/badge/").content.decode()


def test_settings_save_quiet_hours_and_subscriptions(client, people):
    user = people["qp_duty"]
    client.force_login(user)
    page = client.get("/notifications/settings/").content.decode()
    assert "免打扰时段" in page and "duty@qingpu.example" in page
    r = client.post("/notifications/settings/", {"action": "quiet", "start": "22:00", "end": "07:00", "enabled": "on"})
    assert r.status_code == 302
    q = QuietHours.objects.get(user=user)
    assert (q.start, q.end, q.enabled) == (dt.time(22), dt.time(7), True)
    r = client.post("/notifications/settings/", {"action": "subscribe", "kind_pattern": "alarm.*", "channel": "email", "enabled": "0"})
    assert r.status_code == 302
    assert list(Subscription.objects.filter(user=user).values_list("kind_pattern", "channel", "enabled")) == [("alarm.*", "email", False)]
    assert "alarm.*" in client.get("/notifications/settings/").content.decode()
    bad = client.post("/notifications/settings/", {"action": "subscribe", "kind_pattern": "<script>", "channel": "email", "enabled": "1"})
    assert bad.status_code == 400 and Subscription.objects.count() == 1
    bad = client.post("/notifications/settings/", {"action": "subscribe", "kind_pattern": "alarm.*", "channel": "webhook", "enabled": "1"})
    assert bad.status_code == 400  # webhooks are the bureau's, not a person's
    sub = Subscription.objects.get()
    other = Subscription.objects.create(user=people["ks_duty"], kind_pattern="*", channel="email", enabled=False)
    client.post("/notifications/settings/", {"action": "unsubscribe", "id": other.pk})
    assert Subscription.objects.filter(pk=other.pk).exists()  # not mine
    for junk in ("x", str(2**70), "-3", ""):
        assert client.post("/notifications/settings/", {"action": "unsubscribe", "id": junk}).status_code == 302
    client.post("/notifications/settings/", {"action": "unsubscribe", "id": sub.pk})
    assert not Subscription.objects.filter(pk=sub.pk).exists()
    client.post("/notifications/settings/", {"action": "quiet-clear"})
    assert not QuietHours.objects.filter(user=user).exists()
    client.cookies["django_language"] = "en"
    assert "Quiet hours" in client.get("/notifications/settings/").content.decode()


@pytest.fixture
def admins(bureaus):
    def staff(name, bureau, role):
        return User.objects.create_user(username=name, password="secret-pass-123", bureau=bureau, role=role, is_staff=True)

    return {
        "qp_admin": staff("qp-admin", bureaus["qp"], Role.ADMINISTRATOR),
        "qp_viewer": staff("qp-viewer", bureaus["qp"], Role.VIEWER),
        "root": User.objects.create_superuser(username="root", password="x" * 12),
    }


def test_admin_webhook_endpoints_follow_the_policy(client, admins, bureaus, people):
    mine = services.save_webhook_endpoint(bureau=bureaus["qp"], name="青浦值班", url="http://127.0.0.1:9/", secret="s" * 20)
    theirs = services.save_webhook_endpoint(bureau=bureaus["ks"], name="昆山值班", url="http://127.0.0.1:9/", secret="s" * 20)
    client.force_login(admins["qp_admin"])
    listing = client.get("/admin/notifications/webhookendpoint/")
    assert listing.status_code == 200
    assert "青浦值班" in listing.content.decode() and "昆山值班" not in listing.content.decode()
    assert client.get(f"/admin/notifications/webhookendpoint/{theirs.pk}/change/").status_code in (302, 403, 404)
    r = client.post("/admin/notifications/webhookendpoint/add/", {
        "bureau": bureaus["qp"].pk, "name": "短密钥", "url": "http://127.0.0.1:9/", "secret": "short", "kinds": "", "active": "on", "timeout_seconds": "5"})
    assert r.status_code == 200 and "签名密钥至少 16 个字符" in r.content.decode()
    r = client.post("/admin/notifications/webhookendpoint/add/", {
        "bureau": bureaus["ks"].pk, "name": "别人的", "url": "http://127.0.0.1:9/", "secret": "s" * 20, "kinds": "", "active": "on", "timeout_seconds": "5"})
    assert r.status_code == 200 and not WebhookEndpoint.objects.filter(name="别人的").exists()
    r = client.post("/admin/notifications/webhookendpoint/add/", {
        "bureau": bureaus["qp"].pk, "name": "第二个", "url": "https://duty.qingpu.example/hook", "secret": "s" * 20, "kinds": "alarm.*", "active": "on", "timeout_seconds": "5"})
    assert r.status_code == 302 and WebhookEndpoint.objects.get(name="第二个").bureau == bureaus["qp"]
    client.force_login(admins["qp_viewer"])
    assert client.get("/admin/notifications/webhookendpoint/").status_code == 403
    client.force_login(admins["root"])
    page = client.get("/admin/notifications/webhookendpoint/").content.decode()
    assert "青浦值班" in page and "昆山值班" in page and mine.pk


def test_admin_delivery_log_and_retry(client, admins, people):
    _alarm([people["qp_duty"], people["ks_duty"]])
    services.dispatch_due(now=NOW)
    client.force_login(admins["qp_admin"])
    page = client.get("/admin/notifications/delivery/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "qp-duty" in text and "ks-duty" not in text and "投递" in text
    from gongzhi.notifications.models import Delivery

    qp_delivery = Delivery.objects.get(notification__recipient=people["qp_duty"])
    Delivery.objects.filter(pk=qp_delivery.pk).update(status="failed", last_error="x")
    r = client.post("/admin/notifications/delivery/", {"action": "retry_now", "_selected_action": [qp_delivery.pk]})
    assert r.status_code == 302
    qp_delivery.refresh_from_db()
    assert qp_delivery.status == "queued"


def test_every_notification_template_string_has_an_english_translation():
    import re
    from pathlib import Path

    from gongzhi.devtools import msgfmt

    po = msgfmt.LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
    known = {e.msgid for e in msgfmt.parse_po(po.read_text(encoding="utf-8"))}
    found = set()
    for template in (Path(msgfmt.LOCALE_DIR).parent / "notifications" / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        found |= set(re.findall(r'{%\s*translate\s+"([^"]+)"', text))
        for body in re.findall(r"{%\s*blocktranslate[^%]*%}(.*?){%\s*endblocktranslate\s*%}", text, flags=re.S):
            found.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body))
    assert len(found) > 20
    assert sorted(found - known) == []


def test_policy_on_bureau_wide_settings(admins, bureaus, people):
    from django.contrib.auth.models import AnonymousUser

    from gongzhi.sharing import policy

    qp, ks = bureaus["qp"], bureaus["ks"]
    assert set(policy.administered_bureaus(admins["root"])) == {qp, ks}
    assert list(policy.administered_bureaus(admins["qp_admin"])) == [qp]
    assert not policy.administered_bureaus(admins["qp_viewer"]).exists()
    assert not policy.administered_bureaus(people["qp_duty"]).exists()  # duty officers read, they do not configure
    assert not policy.administered_bureaus(AnonymousUser()).exists()
    assert policy.can_administer_bureau(admins["qp_admin"], qp) and policy.can_administer_bureau(admins["qp_admin"], qp.pk)
    assert not policy.can_administer_bureau(admins["qp_admin"], ks)
    assert policy.can_administer_bureau(admins["root"], ks)
    assert not policy.can_administer_bureau(admins["qp_admin"], None)
    admins["qp_admin"].is_active = False
    assert not policy.can_administer_bureau(admins["qp_admin"], qp)
