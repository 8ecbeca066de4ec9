"""Partner push: happy path, one test per rejection reason, duplicates on resend, idempotency
replay and conflict, size limits, credentials; the push rule of the policy."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import override_settings
from django.utils import timezone

from api_helpers import assert_error, local, share
from gongzhi.api import services
from gongzhi.api.models import IdempotencyRecord
from gongzhi.observations.models import (
    QC_FLAG_INVALID,
    QC_FUTURE,
    QC_NEGATIVE,
    QC_UNIT_CONVERTED,
    Observation,
    Series,
    SeriesKind,
    Source,
)
from gongzhi.registry.models import UnknownCode
from gongzhi.sharing import policy

URL = "/api/v1/push/observations"


@pytest.fixture
def key(world):
    return services.create_partner_key(bureau=world["bureaus"]["qingpu"], name="青浦平台").secret


@pytest.fixture
def push(api, key):
    counter = iter(range(10**6))

    def send(records, *, idem: str | None = None, token: str | None = None, raw: bytes | None = None):
        headers = {"Idempotency-Key": idem if idem is not None else f"batch-{next(counter)}"}
        return api(token=token or key).post(URL, {"records": records}, headers=headers, raw=raw)

    return send


def rec(**kw):
    base = {"site": "W1", "parameter": "nh3_n", "time": "2026-05-01T10:00:00+08:00", "value": 0.5, "flag": "N", "kind": "hour"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not ...}


def stored(site, parameter, kind="hour"):
    return list(
        Observation.objects.filter(series__site=site, series__parameter=parameter, series__kind=kind)
        .order_by("time").values_list("time", "value", "flag", "qc", "source")
    )


def test_happy_path(world, push):
    records = [
        rec(),
        rec(time="2026-05-01T11:00:00+08:00", value=0.6),
        rec(parameter=world["tp"].code_2017, time="2026-05-01T10:00:00+08:00", value=0.12),
        rec(site="A1", parameter="pm2_5", kind="rtd", time="2026-05-01T10:00:30+08:00", value=35),
        rec(time="2026-05-01T12:00:00+08:00", value=None, flag="M"),
    ]
    r = push(records)
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (5, 0, 0)
    assert [x["status"] for x in body["results"]] == ["accepted"] * 5
    assert [x["index"] for x in body["results"]] == [0, 1, 2, 3, 4]
    w1 = world["sites"]["W1"]
    rows = stored(w1, world["nh3"])
    assert [(t, v, f) for t, v, f, _, _ in rows] == [
        (local(2026, 5, 1, 10), 0.5, "N"), (local(2026, 5, 1, 11), 0.6, "N"), (local(2026, 5, 1, 12), None, "M"),
    ]
    assert {s for *_, s in rows} == {Source.PARTNER}
    assert rows[2][3] & QC_FLAG_INVALID and body["results"][4]["qc"] == ["flag_invalid"]
    assert stored(w1, world["tp"])[0][1] == 0.12
    air = Series.objects.get(site=world["sites"]["A1"], parameter=world["pm25"], kind="rtd")
    assert air.unit == world["pm25"].ambient_unit and air.owner == world["bureaus"]["qingpu"]


def test_naive_times_are_beijing_time_and_offsets_respected(world, push):
    body = push([
        rec(time="2026-05-01T10:00:00"),  # naive: Beijing time
        rec(time="2026-05-01T02:00:00Z"),  # the same instant
        rec(time="2026-05-01T03:00:00Z"),  # 11:00 Beijing
        rec(time="2026-05-01T10:00:00+05:00"),  # 13:00 Beijing, a whole hour there
    ]).json()
    assert [x["status"] for x in body["results"]] == ["accepted", "duplicate", "accepted", "accepted"]
    times = [t for t, *_ in stored(world["sites"]["W1"], world["nh3"])]
    assert times == [local(2026, 5, 1, 10), local(2026, 5, 1, 11), local(2026, 5, 1, 13)]


def test_resend_is_reported_duplicate(world, push):
    records = [rec(), rec(time="2026-05-01T11:00:00+08:00")]
    assert push(records).json()["accepted"] == 2
    body = push(records + [rec(time="2026-05-01T12:00:00+08:00")]).json()  # a new key: processed again
    assert [x["status"] for x in body["results"]] == ["duplicate", "duplicate", "accepted"]
    assert (body["accepted"], body["duplicates"]) == (1, 2)
    # a different value at a stored time is a duplicate too: the store never overwrites
    body = push([rec(value=9.9)]).json()
    assert body["results"][0]["status"] == "duplicate"
    assert stored(world["sites"]["W1"], world["nh3"])[0][1] == 0.5
    # repeated within one batch
    body = push([rec(time="2026-05-01T13:00:00+08:00"), rec(time="2026-05-01T13:00:00+08:00")]).json()
    assert [x["status"] for x in body["results"]] == ["accepted", "duplicate"]


def _outcome(push, record):
    body = push([rec(), record]).json()
    assert body["results"][0]["status"] in ("accepted", "duplicate")  # good records next to bad ones are kept
    return body["results"][1]


def test_unknown_site(world, push):
    r = _outcome(push, rec(site="NOPE"))
    assert (r["status"], r["reason"]) == ("rejected", "unknown_site")


def test_not_owner_for_a_site_the_bureau_sees(world, api, push):
    share(world, "raw", sites=("W2",), provider="kunshan", recipient="qingpu")
    r = _outcome(push, rec(site="W2"))
    assert (r["status"], r["reason"]) == ("rejected", "not_owner")
    assert not Observation.objects.filter(series__site=world["sites"]["W2"]).exists()


def test_a_site_the_bureau_may_not_see_is_unknown(world, push):
    """Without an agreement, Kunshan's W2 is reported as unknown: its existence is not revealed."""
    r = _outcome(push, rec(site="W2"))
    assert (r["status"], r["reason"]) == ("rejected", "unknown_site")


def test_unknown_parameter_is_recorded(world, push):
    r = _outcome(push, rec(parameter="w99999"))
    assert (r["status"], r["reason"]) == ("rejected", "unknown_parameter")
    push([rec(parameter="w99999", time="2026-05-01T11:00:00+08:00")])
    unknown = UnknownCode.objects.get(code="w99999")
    assert unknown.count == 2 and unknown.example_source == "push:qingpu"


@pytest.mark.parametrize(
    "time",
    [
        "tomorrow", "2026-05-01", "2026-02-30T10:00:00", 1714528800, None, "1970-01-01T00:00:00Z",
        "2026-05-01T10:30:00+08:00",  # an hour value not stamped with the start of its hour
        "2026-05-01T10:00:00+25:00",
    ],
)
def test_bad_time(world, push, time):
    r = _outcome(push, rec(time=time, value=0.7))
    assert (r["status"], r["reason"]) == ("rejected", "bad_time")


def test_day_values_start_at_beijing_midnight(world, push):
    body = push([rec(kind="day", time="2026-05-01T00:00:00+08:00"), rec(kind="day", time="2026-05-01T00:00:00Z")]).json()
    assert [(x["status"], x["reason"]) for x in body["results"]] == [("accepted", None), ("rejected", "bad_time")]


def test_future_times(world, push):
    now = timezone.now().astimezone(dt.timezone(dt.timedelta(hours=8)))
    near = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=2)
    later = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=3)
    far = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=2)
    body = push([
        rec(kind="min", time=near.isoformat()),
        rec(time=later.isoformat()),
        rec(time=far.isoformat()),
    ]).json()
    near_r, later_r, far_r = body["results"]
    assert near_r["status"] == "accepted" and near_r["qc"] == []  # clock skew within the gateway's tolerance
    assert later_r["status"] == "accepted" and later_r["qc"] == ["future"]  # stored flagged, as the gateway does
    assert (far_r["status"], far_r["reason"]) == ("rejected", "future_time")
    qcs = {t: q for t, _, _, q, _ in stored(world["sites"]["W1"], world["nh3"])}
    assert qcs[later] & QC_FUTURE and far not in qcs


def test_units(world, push):
    body = push([
        rec(value=500, unit="µg/L"),  # safe: 0.5 mg/L
        rec(time="2026-05-01T11:00:00+08:00", value=0.6, unit="mg/l"),  # same unit, other spelling
        rec(time="2026-05-01T12:00:00+08:00", value=1, unit="mg/m³"),  # another dimension
        rec(time="2026-05-01T13:00:00+08:00", value=1, unit="ppb"),
        rec(site="A1", parameter="pm2_5", kind="hour", value=0.035, unit="mg/m3"),  # → 35 µg/m³
    ]).json()
    res = body["results"]
    assert [x["status"] for x in res] == ["accepted", "accepted", "rejected", "rejected", "accepted"]
    assert res[2]["reason"] == res[3]["reason"] == "unit_mismatch"
    assert res[0]["qc"] == ["unit_converted"] and res[1]["qc"] == [] and res[2]["qc"] is None
    rows = stored(world["sites"]["W1"], world["nh3"])
    assert rows[0][1] == pytest.approx(0.5) and rows[0][3] & QC_UNIT_CONVERTED
    assert stored(world["sites"]["A1"], world["pm25"])[0][1] == pytest.approx(35)


@pytest.mark.parametrize("value", ["0.5", True, [1], {"v": 1}, "NaN"])
def test_bad_value(world, push, value):
    r = _outcome(push, rec(value=value, time="2026-05-01T11:00:00+08:00"))
    assert (r["status"], r["reason"]) == ("rejected", "bad_value")


def test_non_finite_and_huge_values(world, push, key, api):
    raw = ('{"records": [{"site": "W1", "parameter": "nh3_n", "time": "2026-05-01T10:00:00+08:00", "value": NaN, "kind": "hour"},'
           '{"site": "W1", "parameter": "nh3_n", "time": "2026-05-01T11:00:00+08:00", "value": 1e999, "kind": "hour"}]}').encode()
    body = push(None, raw=raw).json()
    assert [(x["status"], x["reason"]) for x in body["results"]] == [("rejected", "bad_value")] * 2


def test_bad_flag_and_qc_of_values(world, push):
    body = push([rec(flag="bad flag"), rec(time="2026-05-01T11:00:00+08:00", value=-1)]).json()
    assert (body["results"][0]["status"], body["results"][0]["reason"]) == ("rejected", "bad_value")
    assert body["results"][1]["qc"] == ["negative"]
    assert stored(world["sites"]["W1"], world["nh3"])[0][3] & QC_NEGATIVE


@pytest.mark.parametrize(
    "record",
    [
        "not an object",
        rec(site=...),
        rec(parameter=...),
        rec(kind=...),
        rec(kind="weekly"),
        rec(value=...),
        rec(time=...),
        rec(site=""),
        rec(site=12),
        rec(site="W1\x00"),
        rec(parameter="nh3\x00n"),
        rec(unit="mg/L\ud800"),
        {**rec(), "extra": 1},
        {**rec(), "\x00": 1},
    ],
)
def test_bad_record(world, push, record):
    r = _outcome(push, record)
    assert (r["status"], r["reason"]) == ("rejected", "bad_record")
    assert r["message"]


def test_all_reasons_in_one_batch(world, push):
    share(world, "raw", sites=("W2",), provider="kunshan", recipient="qingpu")
    records = [
        rec(), rec(site="NOPE"), rec(site="W2"), rec(parameter="zz_unknown"), rec(time="bad"),
        rec(time=(timezone.now() + dt.timedelta(days=3)).replace(minute=0, second=0, microsecond=0).isoformat()),
        rec(unit="dB"), rec(value="x"), rec(kind=...),
    ]
    body = push(records).json()
    assert [x["reason"] for x in body["results"]] == [
        None, "unknown_site", "not_owner", "unknown_parameter", "bad_time", "future_time", "unit_mismatch", "bad_value", "bad_record",
    ]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 0, 8)
    assert len(stored(world["sites"]["W1"], world["nh3"])) == 1


# --- idempotency --------------------------------------------------------------------------------------


def test_idempotency_replay_returns_the_stored_response_without_writing(world, push):
    first = push([rec()], idem="abc-1")
    assert first.status_code == 200 and first.json()["accepted"] == 1
    Observation.objects.all().delete()  # if the replay wrote, the value would come back
    again = push([rec()], idem="abc-1")
    assert again.status_code == 200 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not Observation.objects.exists()
    # the same records in another key order: the same body
    reordered = json.dumps({"records": [dict(reversed(list(rec().items())))]}).encode()
    assert push(None, idem="abc-1", raw=reordered).json() == first.json()


def test_idempotency_conflict(world, push):
    push([rec()], idem="abc-2")
    assert_error(push([rec(value=0.9)], idem="abc-2"), 422, "idempotency_conflict")
    assert stored(world["sites"]["W1"], world["nh3"])[0][1] == 0.5


def test_idempotency_keys_are_per_bureau(world, push, api):
    push([rec()], idem="shared-key")
    other = services.create_partner_key(bureau=world["bureaus"]["kunshan"]).secret
    r = push([rec(site="W2")], idem="shared-key", token=other)
    assert r.status_code == 200 and r.json()["accepted"] == 1


def test_idempotency_key_required_and_checked(world, api, key):
    assert_error(api(token=key).post(URL, {"records": [rec()]}), 400, "idempotency_key_required")
    assert_error(api(token=key).post(URL, {"records": [rec()]}, headers={"Idempotency-Key": "x" * 129}), 400, "invalid_request")
    assert_error(api(token=key).post(URL, {"records": [rec()]}, headers={"Idempotency-Key": "has space"}), 400, "invalid_request")
    assert not Observation.objects.exists() and not IdempotencyRecord.objects.exists()


def test_expired_idempotency_record_is_ignored(world, push):
    push([rec()], idem="old")
    IdempotencyRecord.objects.update(created=timezone.now() - dt.timedelta(days=8))
    body = push([rec(value=0.9), rec(time="2026-05-01T11:00:00+08:00")], idem="old").json()
    assert [x["status"] for x in body["results"]] == ["duplicate", "accepted"]
    assert IdempotencyRecord.objects.count() == 1


# --- envelope, size, credentials ------------------------------------------------------------------


@override_settings(GONGZHI_API_PUSH_MAX_RECORDS=3)
def test_too_many_records_is_413(world, push):
    err = assert_error(push([rec(time=f"2026-05-01T0{h}:00:00+08:00") for h in range(4)]), 413, "too_many_records")
    assert err["details"][0] == {"max_records": 3, "records": 4}
    assert not Observation.objects.exists()
    assert push([rec(time=f"2026-05-01T0{h}:00:00+08:00") for h in range(3)]).json()["accepted"] == 3


@override_settings(GONGZHI_API_PUSH_MAX_BYTES=200)
def test_too_large_body_is_413(world, push):
    assert_error(push([rec(), rec(time="2026-05-01T11:00:00+08:00")]), 413, "payload_too_large")


def test_default_limit_takes_ten_thousand_records(world, push):
    start = local(2025, 1, 1)
    records = [rec(time=(start + dt.timedelta(hours=i)).isoformat(), value=i / 100) for i in range(10_000)]
    body = push(records).json()
    assert body["accepted"] == 10_000
    assert_error(push(records + [rec()]), 413, "too_many_records")


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", b'{"records": {}}', b'{"rows": []}', b'{"records": [], "extra": 1}', b"\xff\xfe", b"[" * 100000],
)
def test_bad_envelopes_are_400(world, push, raw):
    err = assert_error(push(None, raw=raw), 400)
    assert err["code"] in ("invalid_json", "invalid_request")
    assert not IdempotencyRecord.objects.exists()


def test_empty_batch(world, push):
    assert push([]).json() == {"accepted": 0, "duplicates": 0, "rejected": 0, "results": []}


def test_push_credentials(world, api):
    body = {"records": [rec()]}
    h = {"Idempotency-Key": "k"}
    assert_error(api(None).post(URL, body, headers=h), 401, "unauthenticated")
    assert_error(api(token="gzk_wrong").post(URL, body, headers=h), 401, "invalid_token")
    assert_error(api("qp_monitor").post(URL, body, headers=h), 403, "insufficient_scope")
    assert not Observation.objects.exists()


def test_get_on_push_route_is_405(world, api, key):
    assert_error(api(token=key).get(URL), 405, "method_not_allowed")


# --- policy ----------------------------------------------------------------------------------------------


def test_can_push_data_only_for_the_owner(world):
    qingpu, kunshan, office = (world["bureaus"][b] for b in ("qingpu", "kunshan", "office"))
    w1 = world["sites"]["W1"]
    assert policy.can_push_data(qingpu, w1) and policy.can_push_data(qingpu.pk, w1)
    share(world, "raw")  # an agreement shares reading, never writing
    assert not policy.can_push_data(kunshan, w1)
    assert not policy.can_push_data(office, w1)
    assert not policy.can_push_data(None, w1)
    assert not policy.can_push_data(qingpu, world["bureaus"]["qingpu"])  # not a data holder
