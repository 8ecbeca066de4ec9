"""One alarm per place, parameter and rule: a logger's real-time, minute and hourly series of one
analyser crossing the same value rule make one alarm, not three (alerts.services.MERGED_KINDS).

The values go through the evaluator as the gateway's write listener sends them (``feed``)."""

import datetime as dt

from alerts_helpers import T0, feed, region, series  # noqa: F401 (fixtures)
from gongzhi.alerts import services
from gongzhi.alerts.evaluation import Evaluator
from gongzhi.alerts.models import Alarm, AlarmState, DownstreamWarning, EventKind
from gongzhi.notifications.models import Notification

MIN = dt.timedelta(minutes=1)


def discharge(region):
    """A COD rule (fixed 100 mg/L) at the outlet O1, and its real-time, minute and hourly series."""
    p = region["p"]["cod"]
    services.create_rule(name="COD 超 100", owner=region["ks"], kind="exceedance", parameter=p, outlet=region["o1"],
                         limit_source="fixed", upper=100.0)
    return {k: series(region["o1"], p, kind=k) for k in ("rtd", "min", "hour")}


def test_one_discharge_on_three_kinds_of_data_is_one_alarm(region):
    s = discharge(region)
    ev = Evaluator()
    feed(ev, s["rtd"], [150.0], start=T0, now=T0)
    feed(ev, s["min"], [140.0], start=T0 + MIN, now=T0 + 2 * MIN)
    feed(ev, s["hour"], [130.0], start=T0 + 2 * MIN, now=T0 + 3 * MIN)
    alarm = Alarm.objects.get()
    assert alarm.series_id == s["rtd"].pk and alarm.state == AlarmState.OPEN and alarm.value == 150.0
    assert [(a["series"], a["kind"], a["value"], a["cleared_at"]) for a in alarm.evidence["also_on"]] == [
        (s["min"].pk, "min", 140.0, None), (s["hour"].pk, "hour", 130.0, None)]
    joined = list(alarm.events.filter(kind=EventKind.REPEATED).order_by("id").values_list("note", flat=True))
    assert joined == ["分钟数据同样触发 / also met on min data", "小时数据同样触发 / also met on hour data"]
    # the owner's duty officer is told once; the downstream bureaus are warned once
    assert Notification.objects.filter(kind="alarm.opened").count() == 1
    assert sorted(DownstreamWarning.objects.values_list("bureau__code", flat=True)) == ["jiashan", "qingpu"]


def test_the_alarm_stays_open_while_another_kind_still_meets_the_condition(region):
    s = discharge(region)
    ev = Evaluator()
    feed(ev, s["rtd"], [150.0], start=T0, now=T0)
    feed(ev, s["hour"], [130.0], start=T0 + MIN, now=T0 + 2 * MIN)
    feed(ev, s["rtd"], [60.0], start=T0 + 3 * MIN, now=T0 + 4 * MIN)  # real-time back under the limit
    alarm = Alarm.objects.get()
    assert alarm.state == AlarmState.OPEN
    assert alarm.open_key == services.open_key(alarm.rule_id, s["hour"].pk, "value")  # handed to the hourly series
    assert alarm.evidence["also_on"] == [] and alarm.evidence["cleared_on"][0]["series"] == s["rtd"].pk
    assert alarm.events.filter(note__startswith="条件在小时数据上仍持续").exists()
    feed(ev, s["hour"], [70.0], start=T0 + 60 * MIN, now=T0 + 61 * MIN)
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.RESOLVED and alarm.open_key is None
    # the real-time data crossing again later opens a new alarm
    feed(ev, s["rtd"], [160.0], start=T0 + 90 * MIN, now=T0 + 91 * MIN)
    assert Alarm.objects.filter(state=AlarmState.OPEN).count() == 1 and Alarm.objects.count() == 2


def test_a_joined_series_that_clears_first_is_noted_and_the_alarm_resolves_with_its_own(region):
    s = discharge(region)
    ev = Evaluator()
    feed(ev, s["rtd"], [150.0], start=T0, now=T0)
    feed(ev, s["min"], [140.0], start=T0 + MIN, now=T0 + 2 * MIN)
    feed(ev, s["min"], [50.0], start=T0 + 3 * MIN, now=T0 + 4 * MIN)
    alarm = Alarm.objects.get()
    [joined] = alarm.evidence["also_on"]
    assert joined["series"] == s["min"].pk and joined["cleared_at"] == (T0 + 3 * MIN).isoformat()
    assert alarm.state == AlarmState.OPEN
    feed(ev, s["rtd"], [55.0], start=T0 + 5 * MIN, now=T0 + 6 * MIN)
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.RESOLVED


def test_other_rules_and_missing_data_are_not_merged(region):
    s = discharge(region)
    p = region["p"]["cod"]
    strict = services.create_rule(name="COD 超 120", owner=region["ks"], kind="exceedance", parameter=p,
                                  outlet=region["o1"], limit_source="fixed", upper=120.0)
    ev = Evaluator()
    feed(ev, s["rtd"], [150.0], start=T0, now=T0)  # crosses both rules: one alarm each
    assert sorted(Alarm.objects.values_list("rule__name", flat=True)) == ["COD 超 100", "COD 超 120"]
    silent = services.create_rule(name="无数据", owner=region["ks"], kind="missing", parameter=p, outlet=region["o1"],
                                  missing_minutes=30)
    a1, c1 = services.raise_alarm(rule=silent, series=s["min"], data="value", started_at=T0, value=None, now=T0)
    a2, c2 = services.raise_alarm(rule=silent, series=s["hour"], data="value", started_at=T0, value=None, now=T0)
    assert c1 and c2 and a1.pk != a2.pk
    assert strict.pk in set(Alarm.objects.values_list("rule_id", flat=True))


def test_the_alarm_page_names_every_kind_of_data_that_met_the_condition(client, region):
    s = discharge(region)
    ev = Evaluator()
    feed(ev, s["rtd"], [150.0], start=T0, now=T0)
    feed(ev, s["hour"], [130.0], start=T0 + MIN, now=T0 + 2 * MIN)
    alarm = Alarm.objects.get()
    client.force_login(region["users"]["kunshan_emergency_duty_officer"])
    page = client.get(f"/alerts/{alarm.pk}/").content.decode()
    row = page.split('id="data-kinds">', 1)[1].split("</dd>", 1)[0]
    assert row.startswith("实时数据 · 小时数据 130") and "08:01 起同样触发" in row  # Beijing time
    assert "also_on=" not in page  # not repeated in the raw evidence
    client.post("/i18n/setlang/", {"language": "en", "next": "/alerts/"})
    row = client.get(f"/alerts/{alarm.pk}/").content.decode().split('id="data-kinds">', 1)[1].split("</dd>", 1)[0]
    assert "also met since 08:01" in row


def test_a_station_in_calibration_is_one_device_flag_alarm(client, region):
    """Flag C on every analyser of a station (calibration) is one alarm for the station, whatever
    the parameter; each analyser's flag is in its evidence and on its page."""
    services.create_rule(name="设备标记", owner=region["ks"], kind="flag", site=region["up"], flags="C,D,F,M")
    ss = [series(region["up"], region["p"][k]) for k in ("nh3_n", "do", "ph")]
    ev = Evaluator()
    for i, s in enumerate(ss):
        feed(ev, s, [(7.0, "C")], start=T0 + i * MIN, now=T0 + (i + 1) * MIN)
    alarm = Alarm.objects.get()
    assert alarm.parameter.key == "nh3_n"
    assert [(a["series"], a["parameter"]) for a in alarm.evidence["also_on"]] == [
        (ss[1].pk, region["p"]["do"].pk), (ss[2].pk, region["p"]["ph"].pk)]
    notes = list(alarm.events.filter(kind=EventKind.REPEATED).order_by("id").values_list("note", flat=True))
    assert notes == ["溶解氧 实时数据同样触发 / also met on do rtd data", "pH值 实时数据同样触发 / also met on ph rtd data"]
    assert Notification.objects.filter(kind="alarm.opened").count() == 1
    client.force_login(region["users"]["kunshan_emergency_duty_officer"])
    row = client.get(f"/alerts/{alarm.pk}/").content.decode().split('id="data-kinds">', 1)[1].split("</dd>", 1)[0]
    assert "溶解氧 实时数据" in row and "pH值 实时数据" in row
    # calibration over: every analyser back to N resolves it
    for i, s in enumerate(ss):
        feed(ev, s, [(7.0, "N")], start=T0 + (10 + i) * MIN, now=T0 + (11 + i) * MIN)
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.RESOLVED


def test_the_database_keeps_one_alarm_per_place_when_two_evaluators_race(region, monkeypatch):
    """The evaluator of another process opened the place's alarm after this one looked for it
    (the look-up found nothing): the unique place key stops the second alarm, and the series
    joins the first."""
    s = discharge(region)
    ev = Evaluator()
    feed(ev, s["rtd"], [150.0], start=T0, now=T0)
    real = services._place_alarm
    calls = []

    def not_yet_visible(*args):
        calls.append(args)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(services, "_place_alarm", not_yet_visible)
    feed(ev, s["min"], [140.0], start=T0 + MIN, now=T0 + 2 * MIN)
    assert len(calls) == 2  # looked, tried to open, met the key, looked again and joined
    alarm = Alarm.objects.get()
    assert [a["series"] for a in alarm.evidence["also_on"]] == [s["min"].pk]
    assert alarm.place_key == services.place_key(alarm.rule_id, "exceedance", "value", s["rtd"])
    feed(ev, s["min"], [50.0], start=T0 + 3 * MIN, now=T0 + 4 * MIN)
    feed(ev, s["rtd"], [50.0], start=T0 + 5 * MIN, now=T0 + 6 * MIN)
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.RESOLVED and alarm.place_key is None and alarm.open_key is None
