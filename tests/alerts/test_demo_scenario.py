"""Issue #6 "Done when", on the real demo region: the simulator's pollution episode on a boundary
river raises an alarm upstream, the downstream bureaus' users see a warning with arrival times,
and an injected sensor fault is labelled as a fault, not as pollution.

The scenario runs on a fake clock. Three days of history from the simulator's value models are
written first, once as 10-minute real-time values and once as hourly values (as ``make demo``'s
back-fill leaves it) (no listener: history is not evaluated), so the verdicts have baselines.
Then two hours of minute values go through ``observations.services.write_observations`` — the
gateway's write path — with a synchronous stand-in for the live evaluator registered as a write
listener (the real one evaluates on its own thread and connection at the wall-clock time, which a
rolled-back test transaction and a fake clock cannot give it):

* the simulator's 急水港 episode model (``demo-jishui``) starts at the Kunshan → Qingpu boundary
  section W320583-S01 at T0 + 60 min;
* a labelled instrument fault, the simulator's ``spike`` (one hour of one analyser reading × 5,
  flag N), hits ammonia at 吴淞江昆山 W320583-S03 (Kunshan → Qingpu) at T0 + 30 min.

The simulator keeps the places of the scripted demo (this episode's source, the faulty analyser)
within their class Ⅲ target (``simulator.episodes.DEMO_PLACES``), so no alarm stands open there
before the episode or the fault arrives.

Expected arrival times come from the simulator's own river network (region.json) and its
``propagate``, not from the alerts app and not from constants.
"""

import dataclasses
import datetime as dt

import numpy as np
import pytest
from django.db import transaction

from gongzhi.accounts.models import Role, User
from gongzhi.alerts import evaluation, services
from gongzhi.alerts.models import Alarm, DownstreamWarning
from gongzhi.demo.loader import load_demo_region
from gongzhi.demo.region import load_region
from gongzhi.notifications.models import Notification
from gongzhi.observations import services as obs
from gongzhi.registry import models as reg
from gongzhi.simulator import SimConfig, Simulator
from gongzhi.simulator.episodes import SIGMA0_S, demo_episodes, propagate
from gongzhi.simulator.signals import LabelledEvent

pytestmark = pytest.mark.django_db

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 12, 5, 0, 0, tzinfo=UTC)  # the fake "now" when the live phase starts
HISTORY = dt.timedelta(days=3)
LIVE = dt.timedelta(hours=2)
SOURCE = "W320583-S01"  # 急水港周庄, Kunshan → Qingpu boundary section
FAULTY = "W320583-S03"  # 吴淞江昆山, Kunshan → Qingpu: another boundary section, on another river
FAULT_CODE = "w21003"  # ammonia
EPISODE_START = T0 + dt.timedelta(minutes=60)
FAULT_START = T0 + dt.timedelta(minutes=30)
FAULT_FACTOR = 5.0
HORIZON_S = 72 * 3600  # docs/alerts.md: sections downstream within 72 hours are warned about


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo region, loaded once inside a transaction rolled back at the end."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            load_demo_region(data_dir=tmp_path_factory.mktemp("demo"))
            yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _times(res) -> list[dt.datetime]:
    return [dt.datetime.fromtimestamp(int(x), UTC) for x in np.asarray(res.times).astype("datetime64[s]").astype(np.int64)]


def _rows(res, mns, resolve) -> list:
    rows = []
    times = _times(res)
    for mn in mns:
        ds = res.devices[mn]
        for j, code in enumerate(ds.codes):
            sid = resolve(mn, code, ds.unit(code))
            for i, t in enumerate(times):
                v = ds.values[j, i]
                if np.isfinite(v):
                    rows.append((sid, t, round(float(v), 4), ds.flags[j, i] or "N"))
    return rows


@pytest.fixture(params=["rtd", "hour"])
def scenario(request, demo, django_db_blocker, django_capture_on_commit_callbacks):
    """``rtd``: the history is real-time data, as on a platform that has run for days; ``hour``:
    the history is hourly data and real-time data begins with the live phase, as in ``make demo``
    right after its back-fill (the verdicts then judge on the station's hour grid)."""
    history_kind = request.param
    obs.series_resolver.clear()
    evaluation.evaluator.reset()
    with django_db_blocker.unblock():
        region = load_region()
        config = SimConfig(seed=6, fault_rate=0, offline_rate=0, maintenance=False, exceedance_rate=0,
                           episodes_per_year=0, demo_episodes=False)
        full = Simulator.from_region(region, config=config)
        net = full.network
        episode = dataclasses.replace([e for e in demo_episodes(T0) if e.source == SOURCE][0],
                                      start=EPISODE_START, id="scenario-jishui")
        arrivals = propagate(episode, net)
        # the stations whose data the verdicts read: the two places, what lies downstream of the
        # episode (for the page and the cross-check) and the nearest upstream sections
        places = {SOURCE, FAULTY} | {a.place for a in arrivals}
        for p in (SOURCE, FAULTY):
            places |= {a.code for a in net.upstream(p, kind="site", max_time_s=48 * 3600, include_nodes=False)
                       if a.kind == "site"}
        devices = {d["mn"]: d["site"] for d in region["devices"] if d.get("site") in places and d["st"] == "21"}
        mn_of = {site: mn for mn, site in devices.items()}
        sim = Simulator.from_region(region, config=config, mns=set(devices))
        params = {p.code_2017: p for p in reg.Parameter.objects.exclude(code_2017="")}
        sites = {s.code: s for s in reg.Site.objects.filter(code__in=devices.values())}

        def resolver(kind):
            def resolve(mn, code, unit):
                return obs.series_resolver.get(site=sites[devices[mn]], parameter=params[code], kind=kind, unit=unit)
            return resolve

        resolve = resolver("rtd")
        # 1. history: 3 days of 10-minute real-time values or of hourly values, written before any
        # evaluator listens
        evaluation.live.enabled = False
        hist = sim.generate(T0 - HISTORY, T0, step_s=600 if history_kind == "rtd" else 3600, episodes=[])
        report = obs.write_observations(obs.rows_from(_rows(hist, devices, resolver(history_kind))), source=1, received=T0)
        assert services.seed_demo_rules() > 0

        # 2. live: minute values of the episode's source and of the faulty station
        live_mns = [mn_of[SOURCE], mn_of[FAULTY]]
        res = sim.generate(T0, T0 + LIVE, step_s=60, state=hist.state, episodes=[episode])
        faulty = res.devices[mn_of[FAULTY]]
        j = list(faulty.codes).index(FAULT_CODE)
        i0 = _times(res).index(FAULT_START)
        clean_max = float(np.nanmax(faulty.values[j]))
        faulty.values[j, i0:i0 + 60] *= FAULT_FACTOR
        fault = LabelledEvent("spike", mn_of[FAULTY], FAULT_CODE, FAULT_START, FAULT_START + dt.timedelta(hours=1), "N",
                              FAULTY, None, {"factor": FAULT_FACTOR})
        rows = _rows(res, live_mns, resolve)
        by_minute: dict = {}
        for r in rows:
            by_minute.setdefault(r[1], []).append(r)

        def listener(new_rows, received):  # the live evaluator's work, synchronously, at the fake now
            evaluation.evaluator.values(new_rows, now=received)

        evaluation.evaluator.reset()
        obs.add_write_listener(listener)
        try:
            for t in sorted(by_minute):
                with django_capture_on_commit_callbacks(execute=True):
                    obs.write_observations(obs.rows_from(by_minute[t]), source=1, received=t + dt.timedelta(seconds=5))
        finally:
            obs.remove_write_listener(listener)
            evaluation.live.enabled = True
        yield {"history_kind": history_kind, "region": region, "net": net, "episode": episode, "arrivals": arrivals, "fault": fault,
               "history_rows": report, "clean_max": clean_max, "sites": sites, "sim_result": res}
    obs.series_resolver.clear()
    evaluation.evaluator.reset()


def test_episode_warns_downstream_and_fault_is_labelled(scenario, client):
    sc = scenario
    net = sc["net"]
    source = reg.Site.objects.get(code=SOURCE)

    # --- the episode raises an alarm upstream, judged EVENT ---
    alarms = list(Alarm.objects.filter(site=source).select_related("parameter"))
    assert alarms, "the episode raised no alarm at the boundary section"
    # nothing at the source is mistaken for a fault
    assert all((a.evidence.get("verdict") or {}).get("verdict") != "FAULT" for a in alarms)
    # the episode opens at least one alarm on its dispersed leading edge (σ = SIGMA0_S at the
    # source) that the analytics judge an EVENT because the related parameters moved with it
    edge = dt.timedelta(seconds=3 * SIGMA0_S)
    events = [a for a in alarms if (a.evidence.get("verdict") or {}).get("verdict") == "EVENT"]
    assert events, [(a.parameter.code_2017, a.started_at, a.evidence.get("verdict")) for a in alarms]
    for a in events:
        assert sc["episode"].start - edge <= a.started_at <= sc["episode"].start + edge, a.started_at
        assert any("related parameters moved" in r for r in a.evidence["verdict"]["reasons"]), a.evidence["verdict"]
    event = min(events, key=lambda a: a.started_at)

    # --- each downstream bureau gets a warning with the network's travel times ---
    travel = {a.place: a.travel_time_s for a in sc["arrivals"] if a.kind == "site" and a.travel_time_s <= HORIZON_S}
    region = sc["region"]
    site_rec = {s["code"]: s for s in region["sites"]}
    bureau_of_j = {b["jurisdiction"]: b["code"] for b in region["bureaus"] if b.get("jurisdiction") and b.get("kind") != "office"}
    expected_bureaus = {site_rec[c]["owner_bureau"] for c in travel if c != SOURCE}
    crossing = bureau_of_j[site_rec[SOURCE]["downstream_jurisdiction"]]
    expected_bureaus.add(crossing)
    expected_bureaus.discard(site_rec[SOURCE]["owner_bureau"])
    assert "qingpu" in expected_bureaus
    warnings = {w.bureau.code: w for w in DownstreamWarning.objects.filter(alarm=event).select_related("bureau")}
    assert expected_bureaus <= set(warnings), (expected_bureaus, set(warnings))
    for code, w in warnings.items():
        targets = [t for t in w.targets if t.get("site") in travel]
        assert targets, (code, w.targets)
        for t in targets:
            assert t["travel_time_s"] == round(travel[t["site"]]), (t, travel[t["site"]])
        # the boundary section's downstream jurisdiction is reached at once (docs/alerts.md)
        first = 0.0 if code == crossing else min(travel[t["site"]] for t in targets)
        assert abs((w.first_arrival - (event.started_at + dt.timedelta(seconds=first))).total_seconds()) <= 1
        officers = User.objects.filter(bureau=w.bureau, role=Role.EMERGENCY_DUTY_OFFICER, is_active=True)
        assert officers.exists(), code
        for u in officers:
            assert Notification.objects.filter(recipient=u, kind="warning.downstream").exists(), u.username
    # the Qingpu warning names the next section on 急水港 with its arrival time
    qp = warnings["qingpu"]
    nearest = min((c for c in travel if c != SOURCE and site_rec[c]["owner_bureau"] == "qingpu"), key=travel.get)
    assert nearest in {t["site"] for t in qp.targets}

    # --- the injected fault is labelled FAULT and warns nobody ---
    fault = sc["fault"]
    faulty_site = reg.Site.objects.get(code=FAULTY)
    fault_alarms = list(Alarm.objects.filter(site=faulty_site).select_related("parameter"))
    nh3_limit = 1.0  # target class Ⅲ: ammonia ≤ 1.0 mg/L (GB 3838-2002 Table 1)
    assert faulty_site.target_class == 3 and faulty_site.is_boundary
    assert sc["clean_max"] < nh3_limit, "the clean series already exceeds: the fault would not be the cause"
    # a misjudged fault here would warn Qingpu: the section has sections of another bureau downstream
    below = [a.code for a in net.downstream(FAULTY, include_nodes=False) if a.kind == "site"]
    assert any(site_rec[c]["owner_bureau"] != site_rec[FAULTY]["owner_bureau"] for c in below), below
    assert fault_alarms, "the fault raised no alarm (it exceeds the class Ⅲ limit for an hour)"
    for a in fault_alarms:
        assert a.parameter.code_2017 == fault.code
        assert fault.start <= a.started_at < fault.end
        assert a.evidence["verdict"]["verdict"] == "FAULT", a.evidence["verdict"]
        assert a.evidence["verdict"]["resolution"] == sc["history_kind"]
        assert not DownstreamWarning.objects.filter(alarm=a).exists()

    # the fault's page says what the verdict was judged on
    owner = User.objects.filter(bureau=faulty_site.owner, role=Role.EMERGENCY_DUTY_OFFICER).first()
    client.force_login(owner)
    detail = client.get(f"/alerts/{fault_alarms[0].pk}/", HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert "疑似仪器故障" in detail
    assert ("按小时数据研判" in detail) == (sc["history_kind"] == "hour")
    client.logout()

    # --- a downstream duty officer sees the warning on /alerts/, in both languages ---
    officer = User.objects.filter(bureau__code="qingpu", role=Role.EMERGENCY_DUTY_OFFICER).first()
    client.force_login(officer)
    arrival_local = qp.first_arrival.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    page = client.get("/alerts/", HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert "待本局确认的上游预警" in page and arrival_local in page and source.name in page
    assert faulty_site.name not in page  # the fault upstream of Qingpu was not sent to Qingpu
    client.post("/i18n/setlang/", {"language": "en", "next": "/alerts/"})
    page_en = client.get("/alerts/").content.decode()
    assert "Upstream warnings awaiting your acknowledgement" in page_en and arrival_local in page_en
    assert "待本局确认的上游预警" not in page_en
