"""Read services: latest values (out-of-order arrivals, many sites in one query), series
data at each resolution, and the sharing policy (owner raw, partner raw, partner validated
= approved periods only, no agreement = nothing)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gongzhi.accounts.models import Role, User
from gongzhi.observations import aggregates as agg
from gongzhi.observations import queries as q
from gongzhi.observations import services as obs
from gongzhi.observations.models import QC_BACKFILL, QC_UNIT_CONVERTED, Series, SeriesKind, Source, ValidatedPeriod
from gongzhi.registry import models as reg
from gongzhi.sharing import policy
from gongzhi.sharing.models import SharingAgreement

CST = dt.timezone(dt.timedelta(hours=8))


def local(*args):
    return dt.datetime(*args, tzinfo=CST)


def ms(t):
    return int(t.timestamp() * 1000)


def sid_for(site, parameter, kind):
    obs.series_resolver.clear()
    return obs.series_resolver.get(site=site, parameter=parameter, kind=kind)


def write(sid, points, flag="N", qc=0):
    return obs.write_observations([obs.ObservationRow(sid, t, v, flag, qc) for t, v in points], source=Source.DEVICE)


@pytest.fixture
def world(registry):
    """W1 (Qingpu) with NH3-N and TP hourly data; Kunshan and Jiashan users."""
    qingpu, kunshan = registry["bureaus"]
    js = reg.Jurisdiction.objects.create(adcode="330421", name="嘉善县", level="county")
    jiashan = reg.Bureau.objects.create(code="jiashan", name="嘉善县生态环境局", short_name="嘉善", jurisdiction=js)
    users = dict(registry["users"])
    users["js_monitor"] = User.objects.create_user("js_monitor", password="x-123456", bureau=jiashan, role=Role.MONITORING_STAFF)
    w1 = registry["sites"][0]
    nh3, tp = registry["param"], reg.Parameter.objects.get(key="tp")
    return {**registry, "users": users, "w1": w1, "nh3": nh3, "tp": tp, "qingpu": qingpu, "kunshan": kunshan}


def agreement(world, level, *, parameters=None):
    a = SharingAgreement.objects.create(
        provider=world["qingpu"], recipient=world["kunshan"], title="青浦→昆山", purpose="急水港联防联治",
        level=level, valid_from=dt.date(2020, 1, 1), all_sites=False, all_parameters=parameters is None,
    )
    a.sites.add(world["w1"])
    if parameters:
        a.parameters.add(*parameters)
    return a


# --- latest values --------------------------------------------------------------------------------


def test_latest_value_only_moves_forward(world):
    sid = sid_for(world["w1"], world["nh3"], SeriesKind.HOUR)
    write(sid, [(local(2026, 5, 1, 10), 1.0)])
    write(sid, [(local(2026, 5, 1, 9), 0.9)])  # late: older
    [entry] = q.latest_values(world["users"]["qp_monitor"], [world["w1"]])[world["w1"].pk]
    assert (entry["time"], entry["value"]) == (local(2026, 5, 1, 10), 1.0)
    write(sid, [(local(2026, 5, 1, 8), 0.8), (local(2026, 5, 1, 11), 1.1), (local(2026, 5, 1, 7), 0.7)])
    write(sid, [(local(2026, 5, 1, 11), 9.9)])  # a duplicate of the newest: the stored value stays
    [entry] = q.latest_values(world["users"]["qp_monitor"], [world["w1"]])[world["w1"].pk]
    assert (entry["time"], entry["value"], entry["raw"], entry["parameter"]) == (local(2026, 5, 1, 11), 1.1, 1.1, "nh3_n")


def test_latest_values_all_parameters_with_flag_qc_unit_and_corrections(world):
    w1, user = world["w1"], world["users"]["qp_monitor"]
    nh3 = sid_for(w1, world["nh3"], SeriesKind.HOUR)
    nh3_rtd = sid_for(w1, world["nh3"], SeriesKind.REALTIME)
    tp = sid_for(w1, world["tp"], SeriesKind.HOUR)
    write(nh3, [(local(2026, 5, 1, 10), 0.5)])
    write(nh3_rtd, [(local(2026, 5, 1, 10, 40), 0.6)], flag="M")
    write(tp, [(local(2026, 5, 1, 9), 0.12)], qc=QC_UNIT_CONVERTED | QC_BACKFILL)
    obs.revise(series=Series.objects.get(pk=tp), time=local(2026, 5, 1, 9), user=user, reason="复核", value=0.1)
    entries = q.latest_values(user, [w1])[w1.pk]
    assert [e["parameter"] for e in entries] == ["nh3_n", "tp"]
    n, p = entries
    assert (n["kind"], n["value"], n["flag"], n["unit"]) == ("rtd", 0.6, "M", "mg/L")  # the newer of the two kinds
    assert (p["value"], p["raw"], p["version"], p["qc_names"]) == (0.1, 0.12, 1, ["unit_converted", "backfill"])


def test_latest_values_for_many_sites_in_constant_queries(world):
    qingpu = world["qingpu"]
    sites = [
        reg.Site.objects.create(code=f"S{i}", name=f"站{i}", kind="water_section", owner=qingpu, lon=121, lat=31)
        for i in range(30)
    ]
    rows = []
    for i, s in enumerate(sites):
        for p in (world["nh3"], world["tp"]):
            rows.append(obs.ObservationRow(sid_for(s, p, SeriesKind.HOUR), local(2026, 5, 1, i % 24), float(i)))
    obs.write_observations(rows, source=Source.DEVICE)
    obs.apply_pending_changes()  # measured below: reading, not folding in this write
    user = world["users"]["qp_monitor"]
    with CaptureQueriesContext(connection) as few:
        out = q.latest_values(user, sites[:3])
    with CaptureQueriesContext(connection) as many:
        out = q.latest_values(user, sites)
    # the reads plus one check that no write is pending
    assert len(many.captured_queries) == len(few.captured_queries) <= 5
    assert {sid: [e["value"] for e in v] for sid, v in out.items()} == {s.pk: [float(i)] * 2 for i, s in enumerate(sites)}


def test_latest_values_policy(world):
    w1, w2 = world["sites"]
    sid = sid_for(w1, world["nh3"], SeriesKind.HOUR)
    write(sid, [(local(2026, 5, 1, h), float(h)) for h in range(12)])
    ks, js = world["users"]["ks_monitor"], world["users"]["js_monitor"]
    assert q.latest_values(js, [w1]) == {}  # no agreement: nothing
    assert w1.pk not in q.latest_values(ks, [w1, w2])
    assert q.latest_values(ks, [w1, w2])[w2.pk] == []  # its own site, no data yet
    a = agreement(world, "validated")
    assert q.latest_values(ks, [w1])[w1.pk] == []  # validated, nothing approved yet
    q.approve_period(user=world["users"]["qp_monitor"], site=w1, start=local(2026, 5, 1, 0), end=local(2026, 5, 1, 6))
    [e] = q.latest_values(ks, [w1])[w1.pk]
    assert (e["time"], e["value"], e["level"]) == (local(2026, 5, 1, 5), 5.0, "validated")
    assert "raw" not in e
    a.level = "raw"
    a.save()
    [e] = q.latest_values(ks, [w1])[w1.pk]
    assert (e["time"], e["raw"], e["level"]) == (local(2026, 5, 1, 11), 11.0, "raw")


def test_parameter_limited_agreement(world):
    w1 = world["w1"]
    write(sid_for(w1, world["nh3"], SeriesKind.HOUR), [(local(2026, 5, 1, 1), 1.0)])
    write(sid_for(w1, world["tp"], SeriesKind.HOUR), [(local(2026, 5, 1, 1), 0.1)])
    agreement(world, "raw", parameters=[world["tp"]])
    entries = q.latest_values(world["users"]["ks_monitor"], [w1])[w1.pk]
    assert [e["parameter"] for e in entries] == ["tp"]
    with pytest.raises(q.DataNotVisible):
        q.series_data(world["users"]["ks_monitor"], site=w1, parameter=world["nh3"], start=local(2026, 5, 1), end=local(2026, 5, 2))


def test_bulk_levels_agree_with_the_policy(world):
    w1, w2 = world["sites"]
    a = agreement(world, "validated", parameters=[world["tp"]])
    SharingAgreement.objects.create(
        provider=world["qingpu"], recipient=world["kunshan"], title="全部站点", purpose="p", level="raw",
        valid_from=dt.date(2020, 1, 1), all_sites=True, all_parameters=False,
    ).parameters.add(world["nh3"])
    SharingAgreement.objects.create(  # not in force
        provider=world["qingpu"], recipient=world["kunshan"], title="过期", purpose="p", level="raw",
        valid_from=dt.date(2020, 1, 1), valid_to=dt.date(2021, 1, 1), all_sites=True,
    )
    assert a.pk
    params = list(reg.Parameter.objects.filter(key__in=["nh3_n", "tp", "cod"]))
    for user in world["users"].values():
        grants = q.data_levels(user, [w1, w2])
        for site in (w1, w2):
            for p in params:
                expected = policy.data_level(user, site, p)
                got = grants[site.pk].level(p.pk) if site.pk in grants else None
                assert got == expected, (user.username, site.code, p.key)


# --- series data ---------------------------------------------------------------------------------------


@pytest.fixture
def filled(world):
    """NH3-N at W1: real-time values every 10 minutes for 2026-05-01 and -02, hour aggregates computed."""
    w1 = world["w1"]
    sid = sid_for(w1, world["nh3"], SeriesKind.REALTIME)
    points = []
    for d in (1, 2):
        for h in range(24):
            points += [(local(2026, 5, d, h, 10 * i), d + h / 100) for i in range(6)]
    write(sid, points)
    write(sid, [(local(2026, 5, 1, 0, 5), 7.0)], flag="D")
    agg.recompute_dirty()
    return {**world, "sid": sid}


def test_series_data_at_each_resolution(filled):
    user, w1, p = filled["users"]["qp_monitor"], filled["w1"], filled["nh3"]
    raw = q.series_data(user, site=w1, parameter=p, start=local(2026, 5, 1, 0), end=local(2026, 5, 1, 1), resolution="raw")
    assert raw["times"] == [ms(local(2026, 5, 1, 0, m)) for m in (0, 5, 10, 20, 30, 40, 50)]
    assert raw["flags"][:2] == ["N", "D"] and raw["valid"][:2] == [True, False]
    assert raw["values"][1] == raw["raw"][1] == 7.0
    assert (raw["unit"], raw["source_kind"], raw["level"], raw["pending"]) == ("mg/L", "rtd", "raw", False)
    hour = q.series_data(user, site=w1, parameter=p, start=local(2026, 5, 1), end=local(2026, 5, 2), resolution="hour")
    assert len(hour["times"]) == 24 and hour["times"][0] == ms(local(2026, 5, 1))
    assert hour["values"][5] == pytest.approx(1.05)
    assert hour["flags"][0] == "D" and hour["valid"][0] is False  # the water rule: one D makes the hour abnormal
    assert hour["valid"][1:] == [True] * 23
    day = q.series_data(user, site=w1, parameter=p, start=local(2026, 5, 1), end=local(2026, 5, 3), resolution="day")
    assert day["times"] == [ms(local(2026, 5, 1)), ms(local(2026, 5, 2))]
    # day 1: 23 valid hours (hour 0 is abnormal) of 1 + h/100, h = 1…23; day 2: 24 hours of 2 + h/100
    assert day["values"] == [pytest.approx(1 + 0.12), pytest.approx(2 + 0.115)]
    assert day["n"] == [23, 24] and day["valid"] == [True, True]
    month = q.series_data(user, site=w1, parameter=p, start=local(2026, 5, 1), end=local(2026, 6, 1), resolution="month")
    assert month["times"] == [ms(local(2026, 5, 1))] and month["valid"] == [False] and month["n"] == [2]


def test_series_data_pending_until_recomputed(filled):
    write(filled["sid"], [(local(2026, 5, 2, 3, 55), 9.0)])
    args = dict(site=filled["w1"], parameter=filled["nh3"], start=local(2026, 5, 2), end=local(2026, 5, 3), resolution="day")
    assert q.series_data(filled["users"]["qp_monitor"], **args)["pending"] is True
    agg.recompute_dirty()
    assert q.series_data(filled["users"]["qp_monitor"], **args)["pending"] is False


def test_series_data_policy(filled):
    w1, p, users = filled["w1"], filled["nh3"], filled["users"]
    args = dict(site=w1, parameter=p, start=local(2026, 5, 1), end=local(2026, 5, 3))
    with pytest.raises(q.DataNotVisible):
        q.series_data(users["js_monitor"], resolution="raw", **args)
    with pytest.raises(q.DataNotVisible):
        q.series_data(users["ks_monitor"], resolution="raw", **args)
    a = agreement(filled, "raw")
    owner = q.series_data(users["qp_monitor"], resolution="raw", **args)
    partner = q.series_data(users["ks_monitor"], resolution="raw", **args)
    assert partner == owner and len(owner["times"]) == 2 * 24 * 6 + 1
    a.level = "validated"
    a.save()
    v = q.series_data(users["ks_monitor"], resolution="raw", **args)
    assert (v["times"], v["raw"], v["level"]) == ([], None, "validated")
    # approve 2026-05-01 08:00–20:00 for NH3-N and all of 2026-05-02 for the whole site
    q.approve_period(user=users["qp_monitor"], site=w1, parameter=p, start=local(2026, 5, 1, 8), end=local(2026, 5, 1, 20))
    q.approve_period(user=users["qp_monitor"], site=w1, start=local(2026, 5, 2), end=local(2026, 5, 3))
    v = q.series_data(users["ks_monitor"], resolution="raw", **args)
    assert len(v["times"]) == 12 * 6 + 24 * 6
    assert min(v["times"]) == ms(local(2026, 5, 1, 8)) and max(v["times"]) == ms(local(2026, 5, 2, 23, 50))
    hours = q.series_data(users["ks_monitor"], resolution="hour", **args)
    assert hours["times"] == [ms(local(2026, 5, 1, h)) for h in range(8, 20)] + [ms(local(2026, 5, 2, h)) for h in range(24)]
    days = q.series_data(users["ks_monitor"], resolution="day", **args)
    assert days["times"] == [ms(local(2026, 5, 2))]  # 2026-05-01 is approved only in part
    other = q.series_data(users["ks_monitor"], site=w1, parameter=filled["tp"], start=local(2026, 5, 1), end=local(2026, 5, 3))
    assert other["times"] == []  # no TP data


def test_approval_is_for_the_owner_reviewers_only(filled):
    w1, users = filled["w1"], filled["users"]
    period = dict(site=w1, start=local(2026, 5, 1), end=local(2026, 5, 2))
    for who in ("ks_monitor", "qp_analyst", "js_monitor"):
        with pytest.raises(obs.ReviewError, match="monitoring staff"):
            q.approve_period(user=users[who], **period)
    with pytest.raises(obs.ReviewError, match="end after"):
        q.approve_period(user=users["qp_monitor"], site=w1, start=local(2026, 5, 2), end=local(2026, 5, 2))
    with pytest.raises(obs.ReviewError, match="one site or one outlet"):
        q.approve_period(user=users["qp_monitor"], start=local(2026, 5, 1), end=local(2026, 5, 2))
    assert not ValidatedPeriod.objects.exists()
    vp = q.approve_period(user=users["qp_monitor"], **period)
    assert (vp.approved_by, vp.parameter) == (users["qp_monitor"], None)


def test_series_data_of_a_site_without_series(world):
    out = q.series_data(world["users"]["qp_monitor"], site=world["w1"], parameter=world["nh3"],
                        start=local(2026, 5, 1), end=local(2026, 5, 2), resolution="day")
    assert out["times"] == [] and out["level"] == "raw"
    with pytest.raises(ValueError):
        q.series_data(world["users"]["qp_monitor"], site=world["w1"], parameter=world["nh3"],
                      start=local(2026, 5, 1), end=local(2026, 5, 2), resolution="week")


# --- several parameters at once --------------------------------------------------------------------------


@pytest.fixture
def several(filled):
    """W1 with NH3-N (real-time, from ``filled``), TP hourly with a NULL value, a revision and a
    flag, and DO with nothing in the range."""
    w1 = filled["w1"]
    tp_sid = sid_for(w1, filled["tp"], SeriesKind.HOUR)
    write(tp_sid, [(local(2026, 5, 1, h), 0.05 + h / 1000) for h in range(24) if h != 7])
    write(tp_sid, [(local(2026, 5, 1, 7), None)], flag="M")
    obs.revise(series=Series.objects.get(pk=tp_sid), time=local(2026, 5, 1, 9), user=filled["users"]["qp_monitor"],
               reason="复核", value=0.2)
    do = reg.Parameter.objects.get(key="do")
    write(sid_for(w1, do, SeriesKind.HOUR), [(local(2026, 4, 1, 0), 8.0)])
    agg.recompute_dirty()
    return {**filled, "do": do, "cod": reg.Parameter.objects.get(key="cod")}


@pytest.mark.parametrize("resolution", ["raw", "hour", "day", "month"])
@pytest.mark.parametrize("who", ["qp_monitor", "ks_monitor"])
def test_series_data_many_equals_one_call_per_parameter(several, resolution, who):
    """The batched read gives exactly what series_data gives parameter by parameter (owner raw;
    a partner with NH3-N raw, TP validated for an approved half day, DO and COD not shared)."""
    w1, users = several["w1"], several["users"]
    agreement(several, "validated", parameters=[several["tp"]])
    SharingAgreement.objects.create(provider=several["qingpu"], recipient=several["kunshan"], title="氨氮", purpose="p",
                                    level="raw", valid_from=dt.date(2020, 1, 1), all_sites=True, all_parameters=False
                                    ).parameters.add(several["nh3"])
    q.approve_period(user=users["qp_monitor"], site=w1, start=local(2026, 5, 1, 6), end=local(2026, 5, 1, 18))
    params = [several["nh3"], several["tp"], several["do"], several["cod"]]
    span = dict(start=local(2026, 5, 1), end=local(2026, 6, 1) if resolution == "month" else local(2026, 5, 3))
    many = q.series_data_many(users[who], parameters=params, resolution=resolution, site=w1, **span)
    for p in params:
        try:
            one = q.series_data(users[who], parameter=p, resolution=resolution, site=w1, **span)
        except q.DataNotVisible:
            assert p.pk not in many, p.key
            continue
        assert many[p.pk] == one, p.key
    assert len(many[several["nh3"].pk]["times"]) > 0
    if who == "qp_monitor" and resolution in ("raw", "hour"):
        tp = many[several["tp"].pk]
        assert tp["values"][7] is None and tp["flags"][7] == "M" and tp["valid"][7] is False  # NULL kept, not 0
        assert tp["values"][9] == 0.2 and (resolution == "hour" or tp["raw"][9] == pytest.approx(0.059))
    if who == "ks_monitor":
        assert several["do"].pk not in many and several["cod"].pk not in many
        if resolution in ("raw", "hour"):
            assert many[several["tp"].pk]["times"] == [ms(local(2026, 5, 1, h)) for h in range(6, 18)]


def test_series_data_many_reads_in_a_fixed_number_of_queries(several):
    user, w1 = several["users"]["qp_monitor"], several["w1"]
    params = [several["nh3"], several["tp"], several["do"]]
    counts = []  # one query per step, whatever the number of parameters (per kind of source: aggregates, values)
    for n in (2, 3):
        with CaptureQueriesContext(connection) as ctx:
            q.series_data_many(user, parameters=params[:n], resolution="hour", site=w1, start=local(2026, 5, 1), end=local(2026, 5, 3))
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_packed_and_row_reads_agree(several):
    """PostgreSQL reads observations packed per series; the plain row read must give the same frame
    (on SQLite both are the row read)."""
    ids = tuple(Series.objects.filter(site=several["w1"]).values_list("pk", flat=True))
    window = [(ids, local(2026, 4, 1), local(2026, 5, 3))]
    where, params = agg._windows_sql("time", window)
    with connection.cursor() as cur:
        rows = agg._fetch_frame(cur, [(f"SELECT series_id, {agg._time_sql('time')}, value, flag, qc FROM {agg._OBS} WHERE {where}", params)],
                                {"series_id": agg.pl.Int64, "time": "time", "raw": agg.pl.Float64, "flag": agg.pl.Utf8, "qc": agg.pl.Int64})
        if connection.vendor != "postgresql":
            pytest.skip("the packed read is PostgreSQL's (string_agg of int8send/float8send)")
        packed = agg._observations_packed(cur, [(where, params)])
    key = ["series_id", "time"]
    assert rows.height == 2 * 24 * 6 + 1 + 24 + 1 and packed.sort(key).equals(rows.sort(key))
    assert packed.filter(agg.pl.col("raw").is_null()).height == 1


def test_latest_values_of_many_sites_are_in_parameter_order(world):
    """Rows come ordered by parameter key from the database (code-point order, whatever its
    collation: "pm10" < "pm2_5", "co" < "codmn")."""
    keys = ["pm10", "pm2_5", "no2", "nh3_n", "do", "co", "codmn", "o3"]
    params = {p.key: p for p in reg.Parameter.objects.filter(key__in=keys)}
    sites = [reg.Site.objects.create(code=f"M{i}", name=f"站{i}", kind="air_station", owner=world["qingpu"], lon=121, lat=31)
             for i in range(3)]
    for site in sites:
        for k in reversed(keys):
            write(sid_for(site, params[k], SeriesKind.HOUR), [(local(2026, 5, 1, 8), 1.0)])
    obs.apply_pending_changes()
    user = world["users"]["qp_monitor"]
    expected = sorted(keys)
    found = q.latest_values(user, sites)
    assert sorted(found) == [s.pk for s in sites] and all([e["parameter"] for e in v] == expected for v in found.values())


# --- latest values as JSON (the database-built path of /api/v1/latest) -----------------------------


def _as_json_content(found: dict[int, list[dict]]) -> dict[int, list[dict]]:
    """latest_values → what the JSON path must hold: the published entry shape, parsed back."""
    import json

    return {sid: json.loads(json.dumps([q.latest_entry_json(e) for e in entries])) for sid, entries in found.items()}


def test_latest_values_json_equals_latest_values(world):
    """The JSON path (built by the database on PostgreSQL) has the same content as
    latest_values: revisions (highest version, invalidations), two kinds of one parameter
    (the newer wins, the finer on a tie), microsecond times, NaN, QC names, a partner at the
    raw level, a partner at the validated level (approved windows), a per-parameter grant and
    a site shared with nobody."""
    import json

    qingpu, kunshan = world["qingpu"], world["kunshan"]
    w1, w2 = world["sites"]
    nh3, tp = world["nh3"], world["tp"]
    do = reg.Parameter.objects.get(key="do")
    extra = [reg.Site.objects.create(code=f"E{i}", name=f"站{i}", kind="water_section", owner=qingpu, lon=121, lat=31) for i in range(4)]
    hidden = reg.Site.objects.create(code="H", name="不共享", kind="water_section", owner=qingpu, lon=121, lat=31)
    empty = reg.Site.objects.create(code="Z", name="无数据", kind="water_section", owner=kunshan, lon=121, lat=31)
    user = world["users"]["qp_monitor"]
    for i, site in enumerate([w1, *extra, hidden]):
        h = sid_for(site, nh3, SeriesKind.HOUR)
        write(h, [(local(2026, 5, 1, t), 0.1 * t + i) for t in range(10)])
        write(sid_for(site, nh3, SeriesKind.REALTIME), [(local(2026, 5, 1, 9 if i % 2 else 8, 0, 0, 123456 * (i % 2)), 7.0)], flag="M")
        write(sid_for(site, tp, SeriesKind.HOUR), [(local(2026, 5, 1, 9), 0.12 + i)], qc=QC_UNIT_CONVERTED | QC_BACKFILL)
        write(sid_for(site, do, SeriesKind.HOUR), [(local(2026, 5, 1, 9), float("nan") if i == 2 else 6.5)])
        if i in (0, 3):
            series = Series.objects.get(pk=h)
            obs.revise(series=series, time=local(2026, 5, 1, 9), user=user, reason="复核", value=0.5)
            obs.revise(series=series, time=local(2026, 5, 1, 9), user=user, reason="再复核", value=0.4)
        if i == 1:
            obs.revise(series=Series.objects.get(pk=h), time=local(2026, 5, 1, 9), user=user, reason="故障", invalid=True)
    obs.apply_pending_changes()
    # Kunshan: W1 validated (approved until 05:00), E0 raw, E1 raw for TP only; H not shared
    validated = agreement(world, "validated")
    raw = SharingAgreement.objects.create(provider=qingpu, recipient=kunshan, title="原始", purpose="联防联治", level="raw",
                                          valid_from=dt.date(2020, 1, 1), all_sites=False, all_parameters=True)
    raw.sites.add(extra[0])
    subset = SharingAgreement.objects.create(provider=qingpu, recipient=kunshan, title="总磷", purpose="联防联治", level="raw",
                                             valid_from=dt.date(2020, 1, 1), all_sites=False, all_parameters=False)
    subset.sites.add(extra[1])
    subset.parameters.add(tp)
    q.approve_period(user=user, site=w1, start=local(2026, 5, 1, 0), end=local(2026, 5, 1, 6))
    assert validated.level == "validated"
    every = [w1, w2, *extra, hidden, empty]
    for reader in ("qp_monitor", "ks_monitor", "js_monitor"):
        u = world["users"][reader]
        old = _as_json_content(q.latest_values(u, every))
        new = {sid: json.loads(b) for sid, b in q.latest_values_json(u, every).items()}
        assert new == old, reader
    ks = {sid: json.loads(b) for sid, b in q.latest_values_json(world["users"]["ks_monitor"], every).items()}
    assert set(ks) == {w1.pk, w2.pk, extra[0].pk, extra[1].pk, empty.pk}  # H and the others: not shared
    assert [(e["parameter"], e["time"], e["level"]) for e in ks[w1.pk]] == [("nh3_n", "2026-05-01T05:00:00+08:00", "validated")]
    assert ks[empty.pk] == [] and ks[w1.pk][0]["raw"] is None
    assert [e["parameter"] for e in ks[extra[1].pk]] == ["tp"]
    own = {sid: json.loads(b) for sid, b in q.latest_values_json(user, every).items()}
    by_key = {e["parameter"]: e for e in own[w1.pk]}
    assert (by_key["nh3_n"]["value"], by_key["nh3_n"]["raw"], by_key["nh3_n"]["version"]) == (0.4, 0.9, 2)
    assert (by_key["nh3_n"]["kind"], by_key["nh3_n"]["time"]) == ("hour", "2026-05-01T09:00:00+08:00")  # the rtd value is older (08:00)
    e1 = {e["parameter"]: e for e in own[extra[0].pk]}["nh3_n"]  # i = 1: rtd at 09:00:00.123456, newer than the hour value
    assert (e1["kind"], e1["time"], e1["value"]) == ("rtd", "2026-05-01T09:00:00.123456+08:00", 7.0)
    assert {e["parameter"]: e for e in own[extra[1].pk]}["do"]["value"] is None  # NaN → null
    assert by_key["tp"]["qc_names"] == ["unit_converted", "backfill"]


def test_latest_values_json_tie_takes_the_finer_kind(world):
    w1, user = world["w1"], world["users"]["qp_monitor"]
    write(sid_for(w1, world["nh3"], SeriesKind.HOUR), [(local(2026, 5, 1, 9), 1.0)])
    write(sid_for(w1, world["nh3"], SeriesKind.MINUTE), [(local(2026, 5, 1, 9), 2.0)])
    obs.apply_pending_changes()
    import json

    [e] = json.loads(q.latest_values_json(user, [w1])[w1.pk])
    assert (e["kind"], e["value"]) == ("min", 2.0)
    assert [e] == _as_json_content(q.latest_values(user, [w1]))[w1.pk]
