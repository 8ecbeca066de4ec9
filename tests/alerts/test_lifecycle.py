"""Alarm lifecycle and permissions, downstream propagation with known arrival times, warnings,
notifications to duty officers, and escalation on a fake clock."""

import datetime as dt

import pytest

from alerts_helpers import T0, feed, series, region  # noqa: F401 (fixtures)
from gongzhi.alerts import services
from gongzhi.alerts.evaluation import Evaluator
from gongzhi.alerts.models import Alarm, AlarmEvent, DownstreamWarning
from gongzhi.notifications.models import Notification
from gongzhi.sharing import policy

MIN = dt.timedelta(minutes=1)


def raise_at(region, holder="up", value=1.5, *, ack_minutes=30, now=T0):
    p = region["p"]["nh3_n"] if holder != "o1" else region["p"]["cod"]
    s = series(region[holder], p)
    if holder == "o1":
        kw = dict(limit_source="fixed", upper=100.0)
    else:
        kw = dict(limit_source="target_class")
    services.create_rule(name="nh3", owner=region["ks"], kind="exceedance", parameter=p, ack_minutes=ack_minutes, **kw)
    feed(Evaluator(), s, [value], start=now, now=now)
    return Alarm.objects.get()


def test_propagation_with_known_arrival_times(region):
    alarm = raise_at(region)
    ws = {w.bureau.code: w for w in DownstreamWarning.objects.filter(alarm=alarm)}
    assert set(ws) == {"qingpu", "jiashan"}  # not the owner (Kunshan), not Taicang (not downstream)
    qp, js = ws["qingpu"], ws["jiashan"]
    # UP is a boundary section into Qingpu: Qingpu's water is affected at once; its sections later
    assert qp.travel_time_s == 0 and qp.first_arrival == T0
    assert [(t["site"], t["travel_time_s"], t["distance_m"]) for t in qp.targets] == [("BR", 8600, 4100), ("MID", 10800, 7200)]
    assert (js.travel_time_s, js.distance_m) == (21600, 11700)
    assert js.first_arrival == T0 + dt.timedelta(hours=6)
    assert js.targets[0]["drinking_water_source"] is True
    assert qp.deadline == T0 + 30 * MIN and js.deadline == T0 + 30 * MIN
    alarm.refresh_from_db()
    assert [d["site"] for d in alarm.evidence["downstream"]] == ["BR", "MID", "SRC"]
    assert len(js.path) >= 2 and js.path[0] == [region["up"].lon, region["up"].lat]


def test_propagation_from_an_outlet(region):
    alarm = raise_at(region, "o1", 150.0)
    ws = {w.bureau.code: w for w in DownstreamWarning.objects.filter(alarm=alarm)}
    # O1 at 1800 m on R1: N1 after 1800 s, then BR 5000 s, MID 7200 s, SRC 14400 + 3600 s
    assert ws["qingpu"].travel_time_s == 6800 and ws["jiashan"].travel_time_s == 19800
    assert [t["site"] for t in ws["qingpu"].targets] == ["BR", "MID"]


def test_duty_officers_are_notified(region):
    alarm = raise_at(region)
    u = region["users"]
    got = set(Notification.objects.values_list("recipient__username", "kind"))
    assert ("qingpu_emergency_duty_officer", "warning.downstream") in got
    assert ("jiashan_emergency_duty_officer", "warning.downstream") in got
    assert ("kunshan_emergency_duty_officer", "alarm.opened") in got
    assert not Notification.objects.filter(recipient=u["taicang_emergency_duty_officer"]).exists()
    assert not Notification.objects.filter(recipient=u["qingpu_administrator"]).exists()  # not before escalation
    n = Notification.objects.get(recipient=u["jiashan_emergency_duty_officer"])
    assert n.urgent and n.link == f"/alerts/{alarm.pk}/" and "SRC" in n.body and n.body_en


def test_escalation_timing_on_a_fake_clock(region):
    alarm = raise_at(region, ack_minutes=30)
    u = region["users"]
    assert services.escalate_due(now=T0 + 29 * MIN) == []
    up1 = services.escalate_due(now=T0 + 30 * MIN)
    assert {w.bureau.code for w in up1} == {"qingpu", "jiashan"} and all(w.level == 1 for w in up1)
    assert Notification.objects.filter(recipient=u["qingpu_administrator"], kind="warning.escalated").count() == 1
    # Jiashan acknowledges in time; Qingpu does not
    js = DownstreamWarning.objects.get(bureau=region["js"])
    services.acknowledge_warning(warning=js, user=u["jiashan_emergency_duty_officer"], note="已安排取水口加密监测",
                                 now=T0 + 40 * MIN)
    assert services.escalate_due(now=T0 + 59 * MIN) == []
    up2 = services.escalate_due(now=T0 + 60 * MIN)
    assert [(w.bureau.code, w.level) for w in up2] == [("qingpu", 2)]
    assert Notification.objects.filter(recipient=u["office_admin"], kind="warning.escalated").count() == 1
    assert services.escalate_due(now=T0 + 300 * MIN) == []  # nobody above the office
    kinds = list(AlarmEvent.objects.filter(alarm=alarm).values_list("kind", flat=True))
    assert kinds.count("escalated") == 3 and kinds.count("warning_acknowledged") == 1


def test_lifecycle_and_permissions(region):
    alarm = raise_at(region)
    u = region["users"]
    with pytest.raises(services.AlertsError):
        services.acknowledge_alarm(alarm=alarm, user=u["kunshan_viewer"])
    with pytest.raises(services.AlertsError):  # downstream bureaus see it but do not handle it
        services.acknowledge_alarm(alarm=alarm, user=u["qingpu_emergency_duty_officer"])
    services.acknowledge_alarm(alarm=alarm, user=u["kunshan_emergency_duty_officer"], note="已通知运维", now=T0 + MIN)
    alarm.refresh_from_db()
    assert alarm.state == "acknowledged" and alarm.acknowledged_by == u["kunshan_emergency_duty_officer"]
    with pytest.raises(services.AlertsError):
        services.acknowledge_alarm(alarm=alarm, user=u["kunshan_administrator"])  # not open any more
    with pytest.raises(services.AlertsError):
        services.close_alarm(alarm=alarm, user=u["kunshan_administrator"], note="  ")
    services.close_alarm(alarm=alarm, user=u["kunshan_monitoring_staff"], note="仪器故障，现场核实", now=T0 + 2 * MIN)
    alarm.refresh_from_db()
    assert alarm.state == "closed" and alarm.open_key is None
    # a false alarm: the downstream warnings are withdrawn, their officers told
    assert set(DownstreamWarning.objects.values_list("state", flat=True)) == {"cancelled"}
    assert Notification.objects.filter(kind="warning.cancelled", recipient=u["qingpu_emergency_duty_officer"]).exists()
    assert services.escalate_due(now=T0 + 600 * MIN) == []
    history = [(e.kind, e.user.username if e.user else None) for e in alarm.events.order_by("at", "id")]
    assert history[0] == ("opened", None)
    assert ("acknowledged", "kunshan_emergency_duty_officer") in history
    assert history[-1] == ("closed", "kunshan_monitoring_staff")


def test_who_sees_an_alarm(region):
    alarm = raise_at(region)
    u = region["users"]
    assert policy.can_view_alarm(u["kunshan_viewer"], alarm)  # owner
    assert policy.can_view_alarm(u["qingpu_viewer"], alarm)  # warned downstream
    assert policy.can_view_alarm(u["office_admin"], alarm)  # crossed a boundary
    assert not policy.can_view_alarm(u["taicang_administrator"], alarm)
    qs = Alarm.objects.all()
    assert policy.visible_alarms(u["taicang_administrator"], qs).count() == 0
    assert policy.visible_alarms(u["jiashan_viewer"], qs).count() == 1


def test_warning_acknowledgement_permissions(region):
    raise_at(region)
    u = region["users"]
    w = DownstreamWarning.objects.get(bureau=region["qp"])
    for user in (u["qingpu_viewer"], u["qingpu_monitoring_staff"], u["jiashan_emergency_duty_officer"], u["office_admin"]):
        with pytest.raises(services.AlertsError):
            services.acknowledge_warning(warning=w, user=user)
    services.acknowledge_warning(warning=w, user=u["qingpu_administrator"], now=T0 + MIN)
    w.refresh_from_db()
    assert w.state == "acknowledged"
    with pytest.raises(services.AlertsError):
        services.acknowledge_warning(warning=w, user=u["qingpu_emergency_duty_officer"])


def test_office_acknowledges_after_escalation_to_it(region):
    raise_at(region, ack_minutes=10)
    services.escalate_due(now=T0 + 10 * MIN)
    services.escalate_due(now=T0 + 20 * MIN)
    w = DownstreamWarning.objects.get(bureau=region["qp"])
    assert w.level == 2
    services.acknowledge_warning(warning=w, user=region["users"]["office_admin"], now=T0 + 21 * MIN)
    assert DownstreamWarning.objects.get(pk=w.pk).state == "acknowledged"


def test_rule_management_permission(region):
    u = region["users"]
    with pytest.raises(services.AlertsError):
        services.create_rule(user=u["kunshan_viewer"], name="x", owner=region["ks"], kind="missing", missing_minutes=5)
    with pytest.raises(services.AlertsError):
        services.create_rule(user=u["qingpu_administrator"], name="x", owner=region["ks"], kind="missing", missing_minutes=5)
    services.create_rule(user=u["kunshan_monitoring_staff"], name="x", owner=region["ks"], kind="missing", missing_minutes=5)


def test_a_failing_notification_never_loses_the_alarm(region, monkeypatch):
    from gongzhi.notifications import services as notifications

    def broken(**kw):
        raise RuntimeError("smtp down")

    monkeypatch.setattr(notifications, "notify", broken)
    alarm = raise_at(region)
    assert DownstreamWarning.objects.filter(alarm=alarm).count() == 2
    assert "smtp down" in AlarmEvent.objects.filter(alarm=alarm, kind="warning_sent").first().note


def test_more_parameters_at_one_place_join_the_pending_warning(region):
    """One discharge exceeds for COD, then ammonia, then TP: Qingpu and Jiashan get one warning each
    (and one notification per officer), the later alarms' warnings join it, acknowledging it
    acknowledges them, and only the lead warning escalates. After acknowledgement a new alarm
    there is a new warning."""
    u, o1 = region["users"], region["o1"]
    params = [region["p"]["cod"], region["p"]["nh3_n"], reg_param("tp")]
    for p in params:
        services.create_rule(name=f"r-{p.key}", owner=region["ks"], kind="exceedance", parameter=p,
                             limit_source="fixed", upper=1.0)
    ss = [series(o1, p) for p in params]
    ev = Evaluator()
    for i, s in enumerate(ss):
        feed(ev, s, [5.0], start=T0 + i * MIN, now=T0 + i * MIN)
    assert Alarm.objects.count() == 3
    leads = DownstreamWarning.objects.filter(state="pending")
    assert {w.bureau.code for w in leads} == {"qingpu", "jiashan"} and leads.count() == 2
    joined = DownstreamWarning.objects.filter(state="joined")
    assert joined.count() == 4 and all(w.joined_to.bureau_id == w.bureau_id for w in joined)
    assert Notification.objects.filter(recipient=u["qingpu_emergency_duty_officer"], kind="warning.downstream").count() == 1
    # the downstream officer can open every one of the alarms
    for a in Alarm.objects.all():
        assert policy.can_view_alarm(u["qingpu_emergency_duty_officer"], a)
    from django.test import Client

    web = Client()
    web.force_login(u["qingpu_emergency_duty_officer"])
    page = web.get("/alerts/", HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    card = page[page.index('id="pending-warnings"'):page.index("</table>", page.index('id="pending-warnings"'))]
    assert card.count("<tr>") == 2 and all(p.name_zh in card for p in params)  # header + one warning, 3 parameters
    assert {w.bureau.code for w in services.escalate_due(now=T0 + 40 * MIN)} == {"qingpu", "jiashan"}
    qp = leads.get(bureau=region["qp"])
    services.acknowledge_warning(warning=qp, user=u["qingpu_emergency_duty_officer"], now=T0 + 45 * MIN)
    assert set(DownstreamWarning.objects.filter(bureau=region["qp"]).values_list("state", flat=True)) == {"acknowledged"}
    assert DownstreamWarning.objects.filter(bureau=region["js"], state="joined").count() == 2
    # a further parameter after Qingpu acknowledged: a new warning (and notification) for Qingpu
    ph = reg_param("do")
    services.create_rule(name="r-do", owner=region["ks"], kind="exceedance", parameter=ph, limit_source="fixed", lower=2.0)
    s_do = series(o1, ph)
    feed(Evaluator(), s_do, [0.5], start=T0 + 50 * MIN, now=T0 + 50 * MIN)
    assert DownstreamWarning.objects.filter(bureau=region["qp"], state="pending").count() == 1
    assert Notification.objects.filter(recipient=u["qingpu_emergency_duty_officer"], kind="warning.downstream").count() == 2


def reg_param(key):
    from gongzhi.registry.models import Parameter

    return Parameter.objects.get(key=key)
