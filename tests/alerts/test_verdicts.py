"""Fault or pollution: a new alarm asks gongzhi.analytics for a verdict on the station's data.
A jump of one instrument that nothing else saw is labelled a fault and warns nobody downstream;
the same jump with the pollution signature (permanganate index up, dissolved oxygen down) is an
event and is propagated."""

import datetime as dt
import math
import random

from alerts_helpers import T0, series, region  # noqa: F401 (fixtures)
from gongzhi.alerts import services
from gongzhi.alerts.evaluation import Evaluator
from gongzhi.alerts.models import Alarm, DownstreamWarning
from gongzhi.observations import services as obs
from gongzhi.registry.models import Parameter

STEP = dt.timedelta(minutes=5)
N_HISTORY = 3 * 288  # three days of 5-minute values
N_BAD = 8  # the last 40 minutes


def station(region, *, signature: bool):
    rnd = random.Random(7)
    s = {k: series(region["up"], Parameter.objects.get(key=k)) for k in ("nh3_n", "do", "codmn")}
    start = T0 - N_HISTORY * STEP
    rows, eval_rows = [], []
    for i in range(N_HISTORY + N_BAD):
        t = start + i * STEP
        day = math.sin(2 * math.pi * (i % 288) / 288)
        bad = i >= N_HISTORY
        v = {
            "nh3_n": (2.0 if bad else 0.5) + 0.1 * day + rnd.gauss(0, 0.02),
            "codmn": (9.0 if bad and signature else 4.0) + 0.3 * day + rnd.gauss(0, 0.1),
            "do": (3.5 if bad and signature else 7.0) - 0.5 * day + rnd.gauss(0, 0.1),
        }
        for k, x in v.items():
            rows.append((s[k].pk, t, round(x, 3), "N"))
        if i >= N_HISTORY - 2:
            us = int((t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)).total_seconds() * 1e6)
            eval_rows.append((s["nh3_n"].pk, us, round(v["nh3_n"], 3), "N", 0))
    obs.write_observations(obs.rows_from(rows), source=1, received=T0)
    services.create_rule(name="氨氮持续超目标", owner=region["ks"], kind="exceedance", parameter=region["p"]["nh3_n"],
                         site=region["up"], limit_source="target_class", duration_minutes=30)
    Evaluator().values(eval_rows, now=T0 + N_BAD * STEP)
    return Alarm.objects.get()


def test_a_single_instrument_jump_is_a_fault_and_is_not_propagated(region):
    alarm = station(region, signature=False)
    v = alarm.evidence["verdict"]
    assert v["verdict"] == "FAULT", v
    assert any("nothing else saw" in r or "did not move" in r for r in v["reasons"]), v["reasons"]
    assert not DownstreamWarning.objects.filter(alarm=alarm).exists()
    assert alarm.events.filter(note__contains="疑似仪器故障").exists()


def test_the_pollution_signature_is_an_event_and_is_propagated(region):
    alarm = station(region, signature=True)
    v = alarm.evidence["verdict"]
    assert v["verdict"] == "EVENT", v
    assert any("related parameters moved" in r for r in v["reasons"]), v["reasons"]
    assert set(DownstreamWarning.objects.filter(alarm=alarm).values_list("bureau__code", flat=True)) == {"qingpu", "jiashan"}


def test_no_history_no_verdict_still_propagates(region):
    s = series(region["up"], region["p"]["nh3_n"])
    services.create_rule(name="r", owner=region["ks"], kind="exceedance", parameter=region["p"]["nh3_n"],
                         limit_source="target_class")
    us = int((T0 - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)).total_seconds() * 1e6)
    obs.write_observations(obs.rows_from([(s.pk, T0, 3.0, "N")]), source=1, received=T0)
    Evaluator().values([(s.pk, us, 3.0, "N", 0)], now=T0)
    alarm = Alarm.objects.get()
    assert "verdict" not in alarm.evidence
    assert DownstreamWarning.objects.filter(alarm=alarm).count() == 2


def test_the_detail_page_shows_the_verdict(client, region):
    alarm = station(region, signature=False)
    client.force_login(region["users"]["kunshan_emergency_duty_officer"])
    page = client.get(f"/alerts/{alarm.pk}/").content.decode()
    assert "疑似仪器故障（未向下游预警）" in page


def test_hourly_history_and_new_realtime_values_make_one_hour_grid(region):
    """A station whose history is hourly and whose real-time data began lately (``make demo`` right
    after its back-fill) is judged on the hour grid: hourly values where they exist, the mean of the
    real-time values where not; the alarm's own hour holds the mean from the alarm's start on (the
    level the alarm saw), and invalidated values count nowhere."""
    from gongzhi.alerts.verdicts import _hourly_station
    from gongzhi.observations.models import QC_INVALIDATING, Observation

    nh3 = Parameter.objects.get(key="nh3_n")
    hour_s, rtd_s = series(region["up"], nh3, kind="hour"), series(region["up"], nh3, kind="rtd")
    rows = [(hour_s.pk, T0 - dt.timedelta(hours=h), 0.4 + 0.01 * h, "N") for h in range(1, 25)]
    # real time: the hour before T0 (already hourly: hourly wins), T0 … T0+40 min clean, then bad
    rows += [(rtd_s.pk, T0 - dt.timedelta(hours=1) + dt.timedelta(minutes=m), 9.9, "N") for m in range(60)]
    rows += [(rtd_s.pk, T0 + dt.timedelta(minutes=m), 0.5, "N") for m in range(40)]
    rows += [(rtd_s.pk, T0 + dt.timedelta(minutes=m), 2.0 + 0.1 * (m % 2), "N" if m != 45 else "D") for m in range(40, 50)]
    obs.write_observations(obs.rows_from(rows), source=1, received=T0 + dt.timedelta(hours=1))
    bad = Observation.objects.get(series=rtd_s, time=T0 + dt.timedelta(minutes=41))
    Observation.objects.filter(pk=bad.pk).update(value=50.0, qc=QC_INVALIDATING)  # an invalidated value

    since = T0 + dt.timedelta(minutes=40)
    times_s, values, flags = _hourly_station(site=region["up"], start=T0 - dt.timedelta(days=2),
                                             end=T0 + dt.timedelta(hours=1), anchor_parameter=nh3.pk, since=since)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    assert list(times_s) == [(T0 - dt.timedelta(hours=h) - epoch).total_seconds() for h in range(24, -1, -1)]
    v = values[nh3.code_2017]
    assert v[:-1].tolist() == [0.4 + 0.01 * h for h in range(24, 0, -1)]  # hourly values as stored
    expected = [2.0 + 0.1 * (m % 2) for m in range(40, 50) if m != 41]
    assert abs(v[-1] - sum(expected) / len(expected)) < 1e-9
    assert flags[nh3.code_2017][-1] == "D" and set(flags[nh3.code_2017][:-1]) == {"N"}


def hourly_then_live(region, holder, history: dict, live: dict, *, live_minutes: int = 20):
    """Three days of hourly values (``history``: key → f(hour index)), then ``live_minutes`` of
    real-time values (``live``: key → value) through the evaluator, as ``make demo`` right after
    its back-fill."""
    rnd = random.Random(3)
    params = {k: Parameter.objects.get(key=k) for k in history}
    rows = []
    for k, f in history.items():
        s = series(holder, params[k], kind="hour")
        rows += [(s.pk, T0 - dt.timedelta(hours=h), round(f(h) * (1 + rnd.gauss(0, 0.03)), 3), "N") for h in range(1, 72)]
    obs.write_observations(obs.rows_from(rows), source=1, received=T0)
    ev = Evaluator()
    rtd = {k: series(holder, params[k], kind="rtd") for k in live}
    for m in range(live_minutes):
        t = T0 + dt.timedelta(minutes=m)
        us = int((t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)).total_seconds() * 1e6)
        batch = [(rtd[k].pk, t, v * (1 + rnd.gauss(0, 0.01)), "N") for k, v in live.items()]
        obs.write_observations(obs.rows_from(batch), source=1, received=t)
        ev.values([(sid, us, v, f, 0) for sid, _, v, f in batch], now=t + dt.timedelta(seconds=5))
    return ev


def test_an_outlet_discharge_judged_on_the_hour_grid_is_an_event_not_a_fault(region):
    """An outlet whose history is hourly: a sustained discharge seen in 20 minutes of real-time
    values is one slot on the hour grid; it must not be read as a one-sample spike (a fault) —
    it is a sustained change of the discharge, an EVENT, and Qingpu and Jiashan are warned."""
    from gongzhi.registry import models as reg

    o1 = region["o1"]
    cod = Parameter.objects.get(key="cod")
    reg.PermitLimit.objects.create(outlet=o1, parameter=cod, period="day", limit=80, unit="mg/L", standard="GB 4287-2012")
    services.create_rule(name="permit early", owner=region["ks"], kind="exceedance", limit_source="permit_early",
                         duration_minutes=15)
    hourly_then_live(region, o1, {"cod": lambda h: 40 + 5 * math.sin(h / 24 * 2 * math.pi), "nh3_n": lambda h: 3.0},
                     {"cod": 260.0, "nh3_n": 3.0})
    alarm = Alarm.objects.get()
    v = alarm.evidence["verdict"]
    assert (v["verdict"], v["resolution"]) == ("EVENT", "hour"), v
    assert set(DownstreamWarning.objects.filter(alarm=alarm).values_list("bureau__code", flat=True)) == {"qingpu", "jiashan"}


def test_one_analyser_judged_on_the_hour_grid_is_a_fault(region):
    """The same hourly-history station: ammonia alone jumps while permanganate index and DO stay
    (the demo's scripted analyser fault) → FAULT on the hour grid, nobody downstream warned."""
    services.create_rule(name="nh3", owner=region["ks"], kind="exceedance", parameter=region["p"]["nh3_n"],
                         site=region["up"], limit_source="target_class", duration_minutes=10)
    hourly_then_live(region, region["up"],
                     {"nh3_n": lambda h: 0.4, "codmn": lambda h: 4.0 + 0.3 * math.sin(h / 24 * 2 * math.pi),
                      "do": lambda h: 7.5 - 0.4 * math.sin(h / 24 * 2 * math.pi)},
                     {"nh3_n": 2.0, "codmn": 4.0, "do": 7.5})
    alarm = Alarm.objects.get()
    v = alarm.evidence["verdict"]
    assert (v["verdict"], v["resolution"]) == ("FAULT", "hour"), v
    assert not DownstreamWarning.objects.filter(alarm=alarm).exists()


def hour_mean_alarm(region, value_alarm_start):
    """An alarm on the hourly mean of the same station's ammonia, for the hour the value alarm
    began in (as the evaluator raises it once that hour is over)."""
    rule = services.create_rule(name="氨氮小时均值超标", owner=region["ks"], kind="exceedance",
                                parameter=region["p"]["nh3_n"], site=region["up"], limit_source="target_class",
                                data="hour")
    s = series(region["up"], region["p"]["nh3_n"])
    hour = value_alarm_start.replace(minute=0, second=0, microsecond=0)
    alarm, created = services.raise_alarm(rule=rule, series=s, data="hour", started_at=hour, value=1.8, limit=1.0,
                                          now=hour + dt.timedelta(hours=1, minutes=5))
    assert created
    return alarm


def test_an_hour_mean_alarm_inherits_the_fault_of_its_values(region):
    """The faulty analyser's hourly mean crosses the limit too: its alarm carries the value alarm's
    FAULT verdict (and says whose) and warns nobody downstream, as the value alarm did not."""
    value_alarm = station(region, signature=False)
    assert value_alarm.evidence["verdict"]["verdict"] == "FAULT"
    alarm = hour_mean_alarm(region, value_alarm.started_at)
    v = alarm.evidence["verdict"]
    assert (v["verdict"], v["inherited_from"]) == ("FAULT", value_alarm.pk), v
    assert f"#{value_alarm.pk}" in v["reasons"][0]
    assert not DownstreamWarning.objects.filter(alarm=alarm).exists()
    assert alarm.events.filter(note__contains="疑似仪器故障").exists()


def test_an_hour_mean_alarm_of_a_pollution_event_warns_downstream(region):
    value_alarm = station(region, signature=True)
    alarm = hour_mean_alarm(region, value_alarm.started_at)
    v = alarm.evidence["verdict"]
    assert (v["verdict"], v["inherited_from"]) == ("EVENT", value_alarm.pk), v
    assert set(DownstreamWarning.objects.filter(alarm=alarm).values_list("bureau__code", flat=True)) >= {"qingpu"}


def test_an_hour_mean_alarm_without_a_value_alarm_is_judged_on_the_hour_grid(region):
    """No value alarm in the period (the values never crossed the value rule, only their mean did):
    the aggregate alarm is judged on the station's hour grid itself — one analyser alone → FAULT."""
    hourly_then_live(region, region["up"],
                     {"nh3_n": lambda h: 0.4, "codmn": lambda h: 4.0 + 0.3 * math.sin(h / 24 * 2 * math.pi),
                      "do": lambda h: 7.5 - 0.4 * math.sin(h / 24 * 2 * math.pi)},
                     {"nh3_n": 2.0, "codmn": 4.0, "do": 7.5}, live_minutes=50)
    assert not Alarm.objects.exists()  # no value rule: nothing raised by the values
    alarm = hour_mean_alarm(region, T0)
    v = alarm.evidence["verdict"]
    assert (v["verdict"], v["resolution"]) == ("FAULT", "hour"), v
    assert "inherited_from" not in v
    assert not DownstreamWarning.objects.filter(alarm=alarm).exists()


def test_the_detail_page_names_the_inherited_verdict(client, region):
    from gongzhi.accounts.models import User

    value_alarm = station(region, signature=False)
    alarm = hour_mean_alarm(region, value_alarm.started_at)
    user = User.objects.filter(bureau=region["ks"]).first()
    client.force_login(user)
    zh = client.get(f"/alerts/{alarm.pk}/").content.decode()
    assert f"沿用本时段数值告警 #{value_alarm.pk} 的研判" in zh and f'href="/alerts/{value_alarm.pk}/"' in zh
    assert "其他均未见" in zh and "nothing else saw" not in zh  # the reasons in the reader's language
    client.post("/i18n/setlang/", {"language": "en", "next": "/alerts/"})
    en = client.get(f"/alerts/{alarm.pk}/").content.decode()
    assert f"the verdict of value alarm #{value_alarm.pk} in this period" in en and "nothing else saw" in en


def test_of_several_value_alarms_the_one_on_the_finest_data_gives_the_verdict(region):
    """A discharge raised a real-time alarm judged EVENT and, on the station's hourly series, an
    alarm of another value rule judged FAULT from one hourly value (the same rule's would have
    joined the real-time alarm: test_alarm_merging): the hour mean's alarm follows the real-time
    one (more samples), and warns downstream."""
    value_alarm = station(region, signature=True)  # real-time: EVENT
    other = services.create_rule(name="氨氮超 1.0", owner=region["ks"], kind="exceedance", parameter=region["p"]["nh3_n"],
                                 site=region["up"], limit_source="fixed", upper=1.0)
    hour_series = series(region["up"], region["p"]["nh3_n"], kind="hour")
    coarse, created = services.raise_alarm(rule=other, series=hour_series, data="value",
                                           started_at=value_alarm.started_at, value=2.0, limit=1.0,
                                           now=value_alarm.raised_at)
    assert created and coarse.pk != value_alarm.pk
    coarse.evidence = {**coarse.evidence, "verdict": {"verdict": "FAULT", "reasons": ["one sample that came straight back"],
                                                      "tests": ["spike"]}}
    coarse.save(update_fields=["evidence"])
    alarm = hour_mean_alarm(region, value_alarm.started_at)
    v = alarm.evidence["verdict"]
    assert (v["verdict"], v["inherited_from"]) == ("EVENT", value_alarm.pk), v
    assert DownstreamWarning.objects.filter(alarm=alarm).exists()
