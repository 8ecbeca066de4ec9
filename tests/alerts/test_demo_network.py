"""Propagation on the demo region's river network: an alarm at an upstream boundary section in
Wujiang (太浦河太浦闸) warns Qingpu, with arrival times at 金泽 and at the 太浦河 raw-water intake
(a drinking-water source) equal to the sums of reach lengths / velocities in region.json."""

import datetime as dt

import pytest
from django.db import transaction

from gongzhi.alerts import evaluation, services
from gongzhi.alerts.models import Alarm, DownstreamWarning
from gongzhi.demo.loader import load_demo_region
from gongzhi.demo.region import load_region
from gongzhi.notifications.models import Notification
from gongzhi.observations import services as obs
from gongzhi.registry import models as reg

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 12, 5, 0, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            load_demo_region(data_dir=tmp_path_factory.mktemp("demo"))
            yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def in_demo(demo, django_db_blocker):
    obs.series_resolver.clear()
    with django_db_blocker.unblock():
        yield
    obs.series_resolver.clear()


def travel_s(reach_codes):
    reaches = {r["code"]: r for r in load_region()["river_network"]["reaches"]}
    return sum(reaches[c]["length_m"] / reaches[c]["velocity_m_s"] for c in reach_codes)


def test_taipu_sluice_alarm_reaches_qingpu_and_the_intake(in_demo):
    assert services.seed_demo_rules() >= 4
    site = reg.Site.objects.get(code="W320509-S01")
    assert site.owner.code == "wujiang"
    nh3 = reg.Parameter.objects.get(key="nh3_n")
    sid = obs.series_resolver.get(site=site, parameter=nh3, kind="rtd", unit="mg/L")
    series = obs.Series.objects.get(pk=sid)
    rule = services.create_rule(name="太浦闸氨氮", owner=site.owner, kind="exceedance", parameter=nh3, site=site,
                                limit_source="target_class")
    # target class Ⅱ: ammonia ≤ 0.5 mg/L (GB 3838-2002 Table 1)
    alarm, created = services.raise_alarm(rule=rule, series=series, data="value", started_at=T0, value=0.9, limit=0.5, now=T0)
    assert created
    warnings = {w.bureau.code: w for w in DownstreamWarning.objects.filter(alarm=alarm)}
    assert set(warnings) == {"qingpu"}
    qp = warnings["qingpu"]
    by_site = {t["site"]: t for t in qp.targets}
    jinze = travel_s(["R-TPH-1", "R-TPH-2"])
    intake = travel_s(["R-TPH-1", "R-TPH-2", "R-TPH-3", "R-TPH-4"])
    assert by_site["W310118-024"]["travel_time_s"] == round(jinze)
    assert by_site["W310118-025"]["travel_time_s"] == round(intake)
    assert by_site["W310118-025"]["drinking_water_source"] is True
    assert qp.first_arrival == T0 + dt.timedelta(seconds=jinze)
    # Wujiang's own downstream section is in the alarm's evidence, not a warning to Wujiang
    assert "W320509-S02" in [d["site"] for d in alarm.evidence["downstream"]]
    assert Notification.objects.filter(recipient__username="qingpu_duty", kind="warning.downstream").exists()


def test_demo_rules_raise_on_a_boundary_section(in_demo):
    services.seed_demo_rules()
    site = reg.Site.objects.get(code="W320583-S01")  # 急水港周庄, Kunshan → Qingpu
    nh3 = reg.Parameter.objects.get(key="nh3_n")
    sid = obs.series_resolver.get(site=site, parameter=nh3, kind="rtd", unit="mg/L")
    ev = evaluation.Evaluator()
    us = lambda t: int(t.timestamp() * 1e6)  # noqa: E731
    rows = [(sid, us(T0 + dt.timedelta(minutes=i)), 2.5, "N", 0) for i in range(11)]
    ev.values(rows, now=T0 + dt.timedelta(minutes=11))
    alarm = Alarm.objects.get(site=site)
    assert alarm.limit == 1.0 and alarm.severity == "severe"  # class Ⅲ target, sustained 10 minutes
    assert alarm.started_at == T0
    assert set(alarm.warnings.values_list("bureau__code", flat=True)) == {"qingpu"}


def test_qingwujia_bureaus_read_each_others_outlets_for_source_tracing(in_demo):
    """The demonstration zone's bureaus share their enterprises' online monitoring (raw), so a
    Qingpu section alarm can rank the Wujiang dyeing works upstream by its data (docs/alerts.md,
    source tracing); a bureau outside the zone (Kunshan) still sees no outlet data of Wujiang."""
    from gongzhi.accounts.models import User
    from gongzhi.sharing import policy

    outlet = reg.Outlet.objects.get(code="DW001", enterprise__code="E320509-01")
    assert outlet.enterprise.owner.code == "wujiang"
    cod = reg.Parameter.objects.get(key="cod")
    for bureau, level in (("qingpu", "raw"), ("jiashan", "raw"), ("kunshan", None)):
        user = User.objects.filter(bureau__code=bureau, role="analyst").first()
        assert policy.data_level(user, outlet, cod) == level, bureau
