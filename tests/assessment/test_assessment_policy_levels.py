"""Restricted views: a partner reading at the validated level, or some parameters only.

Such views are computed per request (not cached) from the aggregates the grant allows."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from assess_data import day
from gongzhi.assessment import services
from gongzhi.assessment.models import CachedFacts
from gongzhi.assessment.periods import parse
from gongzhi.observations import queries
from gongzhi.registry import models as reg
from gongzhi.sharing.models import SharingAgreement

OCT = parse("month", "2026-10")


def share(region, *, sites, level, parameters=None):
    sa = SharingAgreement.objects.create(
        provider=region["bureaus"]["ks"], recipient=region["bureaus"]["qp"], title="昆山→青浦", purpose="联防联治",
        valid_from=timezone.localdate() - dt.timedelta(days=800), level=level, all_parameters=parameters is None,
    )
    sa.sites.set([region["sites"][s] for s in sites])
    if parameters:
        sa.parameters.set(reg.Parameter.objects.filter(key__in=parameters))
    return sa


def rows(data):
    return {r["site"]: r for r in data["sections"]}


def test_validated_level_counts_only_approved_months(region):
    share(region, sites=["KS-W1"], level="validated")
    qp = region["users"]["qp"]
    data = services.water_assessment(qp, period=OCT)
    # shared, but nothing approved yet: listed without a class, left out of the shares
    assert rows(data)["KS-W1"]["water_class"] is None and rows(data)["KS-W1"]["level"] == "restricted"
    assert data["summary"]["n_classified"] == 2 and data["summary"]["worse_v_share"] == 0.0
    from gongzhi.accounts.models import Role, User

    reviewer = User.objects.create_user(username="ks-monitor", password="secret-pass-123", bureau=region["bureaus"]["ks"],
                                        role=Role.MONITORING_STAFF)
    # approving part of October is not enough: a month aggregate counts only when the whole month is approved
    queries.approve_period(user=reviewer, site=region["sites"]["KS-W1"], start=day(2026, 10, 1), end=day(2026, 10, 20))
    assert rows(services.water_assessment(qp, period=OCT))["KS-W1"]["water_class"] is None
    queries.approve_period(user=reviewer, site=region["sites"]["KS-W1"], start=day(2026, 9, 1), end=day(2026, 11, 1))
    data = services.water_assessment(qp, period=OCT)
    assert rows(data)["KS-W1"]["label"] == "劣Ⅴ"
    assert data["summary"]["n_classified"] == 3 and data["summary"]["worse_v_share"] == round(100 / 3, 2)
    # restricted views are not written to the cache
    assert not CachedFacts.objects.filter(site=region["sites"]["KS-W1"]).exists()


def test_parameter_grant_counts_those_parameters_only(region):
    share(region, sites=["KS-W1"], level="raw", parameters=["tp"])
    row = rows(services.water_assessment(region["users"]["qp"], period=OCT))["KS-W1"]
    # TP 0.10 alone is class Ⅱ; the NH3-N that makes KS-W1 劣Ⅴ is not shared
    assert set(row["indicators"]) == {"tp"}
    assert row["label"] == "Ⅱ"


def test_validated_air_station_uses_approved_days_and_hours_only(region):
    share(region, sites=["KS-A1"], level="validated")
    from gongzhi.accounts.models import Role, User

    reviewer = User.objects.create_user(username="ks-monitor", password="secret-pass-123", bureau=region["bureaus"]["ks"],
                                        role=Role.MONITORING_STAFF)
    queries.approve_period(user=reviewer, site=region["sites"]["KS-A1"], start=day(2026, 10, 1), end=day(2026, 10, 11))
    data = services.air_assessment(region["users"]["qp"], period=OCT)
    st = {s["site"]: s for s in data["stations"]}
    assert set(st) == {"QP-A1", "KS-A1"}
    assert st["KS-A1"]["valid_days"] == 10  # 1–10 October approved
    assert [d[0] for d in st["KS-A1"]["calendar"]][-1] == "2026-10-10"
    assert st["KS-A1"]["complete"] is False and st["QP-A1"]["complete"] is True
