"""The alarm pages and the REST routes, with the sharing policy applied (zh-Hans by default, English available)."""

import datetime as dt

import pytest

from alerts_helpers import T0, feed, series, region  # noqa: F401 (fixtures)
from gongzhi.alerts import services
from gongzhi.alerts.evaluation import Evaluator
from gongzhi.alerts.models import Alarm, DownstreamWarning


@pytest.fixture
def alarm(region):
    s = series(region["up"], region["p"]["nh3_n"])
    services.create_rule(name="氨氮超目标", owner=region["ks"], kind="exceedance", parameter=region["p"]["nh3_n"],
                         limit_source="target_class")
    feed(Evaluator(), s, [0.5, 0.6, 1.7, 1.9], start=T0, now=T0 + dt.timedelta(minutes=5))
    return Alarm.objects.get()


def login(client, region, name):
    client.force_login(region["users"][name])
    return client


def test_nav_and_list_in_chinese(client, region, alarm):
    r = login(client, region, "kunshan_emergency_duty_officer").get("/alerts/")
    text = r.content.decode()
    assert r.status_code == 200
    assert "预警与告警" in text and 'href="/alerts/"' in text
    assert f'href="/alerts/{alarm.pk}/"' in text and "未确认" in text


def test_list_filters(client, region, alarm):
    c = login(client, region, "kunshan_administrator")
    assert f"/alerts/{alarm.pk}/" in c.get("/alerts/?state=open").content.decode()
    assert f"/alerts/{alarm.pk}/" not in c.get("/alerts/?state=resolved").content.decode()
    assert f"/alerts/{alarm.pk}/" not in c.get("/alerts/?kind=missing").content.decode()
    assert f"/alerts/{alarm.pk}/" in c.get("/alerts/?q=UP").content.decode()


def test_downstream_sees_the_warning_and_acknowledges_it(client, region, alarm):
    c = login(client, region, "qingpu_emergency_duty_officer")
    text = c.get("/alerts/").content.decode()
    assert "待本局确认的上游预警" in text
    detail = c.get(f"/alerts/{alarm.pk}/").content.decode()
    assert "BR" in detail and "MID" in detail and "确认预警" in detail
    assert "确认告警" not in detail  # the owner's action, not Qingpu's
    w = DownstreamWarning.objects.get(bureau=region["qp"])
    r = c.post(f"/alerts/warnings/{w.pk}/acknowledge/", {"note": "已加密监测"})
    assert r.status_code == 302
    assert DownstreamWarning.objects.get(pk=w.pk).state == "acknowledged"


def test_a_bureau_without_a_warning_gets_404(client, region, alarm):
    c = login(client, region, "taicang_administrator")
    assert c.get(f"/alerts/{alarm.pk}/").status_code == 404
    assert f"/alerts/{alarm.pk}/" not in c.get("/alerts/?state=all").content.decode()
    assert c.post(f"/alerts/{alarm.pk}/acknowledge/").status_code == 404


def test_owner_acknowledges_and_closes_with_a_note(client, region, alarm):
    c = login(client, region, "kunshan_emergency_duty_officer")
    page = c.get(f"/alerts/{alarm.pk}/").content.decode()
    assert "确认告警" in page and "alarm-map-data" in page and "vendor/leaflet/leaflet.js" in page
    c.post(f"/alerts/{alarm.pk}/acknowledge/", {"note": "收到"})
    assert Alarm.objects.get(pk=alarm.pk).state == "acknowledged"
    c.post(f"/alerts/{alarm.pk}/close/", {"note": ""})  # refused: a note is required
    assert Alarm.objects.get(pk=alarm.pk).state == "acknowledged"
    c.post(f"/alerts/{alarm.pk}/close/", {"note": "探头污染，已清洗"})
    assert Alarm.objects.get(pk=alarm.pk).state == "closed"
    history = c.get(f"/alerts/{alarm.pk}/").content.decode()
    assert "探头污染，已清洗" in history


def test_a_viewer_sees_no_action_and_cannot_act(client, region, alarm):
    c = login(client, region, "kunshan_viewer")
    assert "确认告警" not in c.get(f"/alerts/{alarm.pk}/").content.decode()
    c.post(f"/alerts/{alarm.pk}/acknowledge/")
    assert Alarm.objects.get(pk=alarm.pk).state == "open"


def test_chart_data_only_with_data_access(client, region, alarm):
    own = login(client, region, "kunshan_viewer").get(f"/alerts/{alarm.pk}/series.json").json()
    assert [p[1] for p in own["points"]] == [0.5, 0.6, 1.7, 1.9] and own["limit"] == 1.0
    client.logout()
    # Qingpu sees the alarm (it was warned) but no agreement shares UP's data with it
    assert login(client, region, "qingpu_viewer").get(f"/alerts/{alarm.pk}/series.json").status_code == 404


def test_english(client, region, alarm):
    c = login(client, region, "kunshan_viewer")
    c.post("/i18n/setlang/", {"language": "en", "next": "/alerts/"})
    text = c.get("/alerts/").content.decode()
    assert "Warnings and alarms" in text and "Unacknowledged" in text


def test_api_list_detail_ack(client, region, alarm):
    c = login(client, region, "qingpu_emergency_duty_officer")
    lst = c.get("/api/v1/alarms").json()
    assert [a["id"] for a in lst["items"]] == [alarm.pk] and lst["items"][0]["place"]["code"] == "UP"
    d = c.get(f"/api/v1/alarms/{alarm.pk}").json()
    assert {w["bureau"] for w in d["warnings"]} == {"qingpu", "jiashan"}
    assert d["events"][0]["kind"] == "opened"
    # Qingpu's duty officer acknowledges: its warning, not the owner's alarm
    r = c.post(f"/api/v1/alarms/{alarm.pk}/ack", {"note": "ok"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["state"] == "open"
    assert DownstreamWarning.objects.get(bureau=region["qp"]).state == "acknowledged"
    r = c.post(f"/api/v1/alarms/{alarm.pk}/ack", {"note": "again"}, content_type="application/json")
    assert r.status_code == 409
    client.logout()
    c = login(client, region, "kunshan_emergency_duty_officer")
    r = c.post(f"/api/v1/alarms/{alarm.pk}/ack", {"note": ""}, content_type="application/json")
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"


def test_api_policy(client, region, alarm):
    c = login(client, region, "taicang_administrator")
    assert c.get("/api/v1/alarms").json()["total"] == 0
    assert c.get(f"/api/v1/alarms/{alarm.pk}").status_code == 404
    assert c.post(f"/api/v1/alarms/{alarm.pk}/ack", {}, content_type="application/json").status_code == 404
    client.logout()
    c = login(client, region, "kunshan_viewer")
    assert c.post(f"/api/v1/alarms/{alarm.pk}/ack", {}, content_type="application/json").status_code == 403
    client.logout()
    assert client.get("/api/v1/alarms").status_code == 401


def test_every_alerts_template_string_has_an_english_translation():
    import re
    from pathlib import Path

    from gongzhi.devtools import msgfmt

    po = msgfmt.LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
    known = {e.msgid: e.msgstr[0] for e in msgfmt.parse_po(po.read_text(encoding="utf-8"))}
    found = set()
    for t in (Path(msgfmt.LOCALE_DIR).parent / "alerts" / "templates").rglob("*.html"):
        found |= set(re.findall(r'{%\s*translate\s+"([^"]+)"', t.read_text(encoding="utf-8")))
    assert len(found) > 40
    assert sorted(s for s in found if not known.get(s)) == []


def test_admin_rule_form_in_chinese_saves_through_the_service(client, region):
    from gongzhi.accounts.models import User
    from gongzhi.alerts.models import AlarmRule

    su = User.objects.create_superuser(username="root", password="pw-root-x1")
    client.force_login(su)
    page = client.get("/admin/alerts/alarmrule/add/").content.decode()
    assert "告警规则" in page and "限值来源" in page and "持续时长（分钟）" in page
    data = {"name": "昆山氨氮", "owner": region["ks"].pk, "kind": "exceedance", "parameter": region["p"]["nh3_n"].pk,
            "severity": "warning", "enabled": "on", "data": "value", "limit_source": "fixed", "upper": "", "lower": "",
            "flags": "", "chla_breaks": "", "duration_minutes": 0, "hysteresis_pct": 5, "min_clear_minutes": 0,
            "ack_minutes": 30, "propagate": "on"}
    r = client.post("/admin/alerts/alarmrule/add/", data)
    assert r.status_code == 200 and "固定限值须填写上限或下限" in r.content.decode()  # the model's validation, in Chinese
    data["upper"] = "1.5"
    r = client.post("/admin/alerts/alarmrule/add/", data)
    assert r.status_code == 302
    assert AlarmRule.objects.get().upper == 1.5
