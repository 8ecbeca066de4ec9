"""The ingestion status page (/status/) on a hand-made raw archive: online/offline by the last
data packet against the device's interval, last packets, error counts by reason over 1 h and
24 h, quarantined packets and unknown codes — each user seeing only what the policy allows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from gongzhi.accounts.models import Role, User
from gongzhi.ingest.models import RawPacket
from gongzhi.registry import models as reg
from gongzhi.web import ingest_status

from web_helpers import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive(web_region):
    r = web_region
    now = timezone.now().replace(microsecond=0)
    dev = lambda mn, site, **kw: reg.Device.objects.create(mn=mn, password="123456", system_code="21", site=site, **kw)  # noqa: E731
    r["online"] = dev("QPW1LOGGER", r["qp_boundary"], interval_s=60)
    r["offline"] = dev("QPW2LOGGER", r["qp_lake"], interval_s=60)
    r["never"] = dev("QPA1LOGGER", r["qp_air"], interval_s=300)
    r["disabled"] = dev("QPOLD", r["qp_boundary"], enabled=False)
    r["ks_dev"] = dev("KSW1LOGGER", r["ks_water"], interval_s=60)

    def pk(mn, ago, verdict="accepted", reason="", cn="2011"):
        return RawPacket(received=now - ago, mn=mn, cn=cn, raw=b"##0000", verdict=verdict, reason=reason, peer="10.0.0.9:5000")

    m = dt.timedelta(minutes=1)
    h = dt.timedelta(hours=1)
    rows = [
        pk("QPW1LOGGER", 1 * m), pk("QPW1LOGGER", 2 * m, "duplicate", "resend"), pk("QPW1LOGGER", 30 * h),
        pk("QPW1LOGGER", 10 * m, "rejected", "bad_crc"), pk("QPW1LOGGER", 20 * m, "rejected", "bad_crc"),
        pk("QPW1LOGGER", 50 * m, "rejected", "bad_crc"), pk("QPW1LOGGER", 5 * h, "rejected", "bad_crc"),
        pk("QPW1LOGGER", 6 * h, "rejected", "bad_crc"), pk("QPW1LOGGER", 25 * h, "rejected", "bad_crc"),  # > 24 h: not counted
        pk("QPW2LOGGER", 2 * h), pk("QPW2LOGGER", 3 * h, "rejected", "no_datatime"),
        # the air logger only ever sent a wrong password: quarantined, never online
        pk("QPA1LOGGER", 30 * m, "quarantined", "bad_password"), pk("QPA1LOGGER", 3 * m, "quarantined", "bad_password"),
        pk("KSW1LOGGER", 1 * m), pk("KSW1LOGGER", 5 * m, "rejected", "bad_crc"),
        pk("UNKNOWN001", 10 * m, "quarantined", "unknown_mn"), pk("UNKNOWN001", 2 * h, "quarantined", "unknown_mn"),
        pk("", 15 * m, "rejected", "garbage"),
    ]
    RawPacket.objects.bulk_create(rows)
    reg.UnknownCode.objects.create(code="w99001", count=17, example_source="QPW1LOGGER")
    resolved = reg.UnknownCode.objects.create(code="a99002", count=3, resolved_to=reg.Parameter.objects.get(key="so2"))
    r["now"] = now
    r["resolved"] = resolved
    r["root"] = User.objects.create_superuser("root", password="secret-pass-123")
    r["qp_monitor"] = make_user("qp-mon", r["qp"], Role.MONITORING_STAFF)
    return r


def test_devices_online_offline_never_disabled(archive):
    ctx = ingest_status.status_context(archive["qp_user"], now=archive["now"])
    by_mn = {d.device.mn: d for d in ctx["devices"]}
    assert sorted(by_mn) == ["QPA1LOGGER", "QPOLD", "QPW1LOGGER", "QPW2LOGGER"]  # not 昆山's logger
    now = archive["now"]
    assert (by_mn["QPW1LOGGER"].state, by_mn["QPW1LOGGER"].last_data, by_mn["QPW1LOGGER"].last_packet) == (
        "online", now - dt.timedelta(minutes=1), now - dt.timedelta(minutes=1))
    assert (by_mn["QPW2LOGGER"].state, by_mn["QPW2LOGGER"].last_data) == ("offline", now - dt.timedelta(hours=2))
    assert (by_mn["QPA1LOGGER"].state, by_mn["QPA1LOGGER"].last_data, by_mn["QPA1LOGGER"].last_packet) == (
        "never", None, now - dt.timedelta(minutes=3))
    assert by_mn["QPOLD"].state == "disabled"
    assert ctx["states"] == {"online": 1, "offline": 1, "never": 1, "disabled": 1}
    assert [by_mn[m].errors_24h for m in ("QPW1LOGGER", "QPW2LOGGER", "QPA1LOGGER", "QPOLD")] == [5, 1, 2, 0]


def test_the_online_rule_uses_the_interval_with_a_floor():
    d = reg.Device(mn="X", interval_s=60)
    now = timezone.now()
    assert ingest_status.state_of(d, now - dt.timedelta(minutes=5), now) == "online"  # 3 × 60 s < 5 min floor
    assert ingest_status.state_of(d, now - dt.timedelta(minutes=5, seconds=1), now) == "offline"
    d.interval_s = 600
    assert ingest_status.state_of(d, now - dt.timedelta(minutes=30), now) == "online"
    assert ingest_status.state_of(d, now - dt.timedelta(minutes=31), now) == "offline"


def test_error_counts_by_reason_for_a_bureau(archive):
    ctx = ingest_status.status_context(archive["qp_user"], now=archive["now"])
    counts = {(e["verdict"], e["reason"]): (e["n_1h"], e["n_24h"]) for e in ctx["errors"]}
    assert counts == {
        ("rejected", "bad_crc"): (3, 5),
        ("quarantined", "bad_password"): (2, 2),
        ("rejected", "no_datatime"): (0, 1),
    }  # 昆山's bad CRC, the unknown MN and the unframed bytes are not 青浦's
    assert (ctx["errors_1h"], ctx["errors_24h"]) == (5, 8)
    assert ctx["packets_1h"]["accepted"] == 1 and ctx["packets_1h"]["duplicate"] == 1
    assert [p.reason for p in ctx["quarantined"]] == ["bad_password", "bad_password"]
    assert not ctx["unattributed"]


def test_the_platform_operator_sees_packets_of_no_device(archive):
    ctx = ingest_status.status_context(archive["root"], now=archive["now"])
    counts = {(e["verdict"], e["reason"]): (e["n_1h"], e["n_24h"]) for e in ctx["errors"]}
    assert counts == {
        ("rejected", "bad_crc"): (4, 6), ("quarantined", "bad_password"): (2, 2), ("rejected", "no_datatime"): (0, 1),
        ("quarantined", "unknown_mn"): (1, 2), ("rejected", "garbage"): (1, 1),
    }
    assert [(p.mn, p.reason) for p in ctx["quarantined"]] == [
        ("QPA1LOGGER", "bad_password"), ("UNKNOWN001", "unknown_mn"), ("QPA1LOGGER", "bad_password"), ("UNKNOWN001", "unknown_mn")]
    assert len(ctx["devices"]) == 5 and ctx["unattributed"]


def test_another_bureau_sees_only_its_own_logger(archive):
    ctx = ingest_status.status_context(archive["ks_user"], now=archive["now"])
    assert [d.device.mn for d in ctx["devices"]] == ["KSW1LOGGER"]
    assert [(e["reason"], e["n_1h"]) for e in ctx["errors"]] == [("bad_crc", 1)]
    assert ctx["quarantined"] == []
    ctx = ingest_status.status_context(archive["js_user"], now=archive["now"])
    assert ctx["devices"] == [] and ctx["errors"] == [] and ctx["packets_1h"]["accepted"] == 0


def test_unknown_codes_are_the_unresolved_ones(archive):
    ctx = ingest_status.status_context(archive["js_user"], now=archive["now"])
    assert [(c.code, c.count) for c in ctx["unknown_codes"]] == [("w99001", 17)]


def test_the_page_in_both_languages(client, archive):
    assert client.get("/status/").status_code == 302  # sign in first
    client.force_login(archive["qp_monitor"])
    html = client.get("/status/").content.decode()
    assert "运行状态" in html and "QPW1LOGGER" in html and "KSW1LOGGER" not in html and "UNKNOWN001" not in html
    assert 'data-state="online"' in html and 'data-state="offline"' in html and "bad_crc" in html and "w99001" in html
    client.cookies["django_language"] = "en"
    html = client.get("/status/").content.decode()
    assert "Ingestion status" in html and "Online" in html and "Quarantined packets" in html and "运行状态" not in html
    client.force_login(archive["root"])
    assert "UNKNOWN001" in client.get("/status/").content.decode()


def test_the_status_queries_do_not_grow_with_the_number_of_devices(archive, django_assert_max_num_queries):
    """One query for the devices (last packets as correlated subqueries), one for their error
    counts, and one each for the summary, errors, quarantine and codes — not one per device."""
    for i in range(20):
        reg.Device.objects.create(mn=f"QPX{i:03d}", password="123456", system_code="21", site=archive["qp_boundary"])
    with django_assert_max_num_queries(10):
        ctx = ingest_status.status_context(archive["qp_user"], now=archive["now"])
    assert len(ctx["devices"]) == 24


def test_the_page_queries_do_not_grow_with_the_number_of_devices(client, archive, django_assert_max_num_queries):
    client.force_login(archive["qp_monitor"])
    client.get("/status/")
    for i in range(20):
        reg.Device.objects.create(mn=f"QPY{i:03d}", password="123456", system_code="21", site=archive["qp_air"])
    with django_assert_max_num_queries(16):  # session, user, bureau, the status queries
        html = client.get("/status/").content.decode()
    assert html.count('data-state="never"') == 21


def test_quarantine_lists_the_last_seven_days(archive):
    old = RawPacket.objects.create(received=archive["now"] - dt.timedelta(days=8), mn="QPA1LOGGER", cn="2011", raw=b"#",
                                   verdict="quarantined", reason="bad_password")
    ctx = ingest_status.status_context(archive["qp_user"], now=archive["now"])
    assert old.pk not in [p.pk for p in ctx["quarantined"]] and len(ctx["quarantined"]) == 2
    ctx = ingest_status.status_context(archive["qp_user"], now=archive["now"] + dt.timedelta(days=6, hours=23))
    assert len(ctx["quarantined"]) == 2  # still inside the window
