"""The demo region loaded into the database (SQLite and PostgreSQL): real boundaries,
the joint zones computed from them, and a working login for every bureau."""

import pytest
from django.db import transaction

from gongzhi.accounts.models import User
from gongzhi.audit.models import AuditEvent
from gongzhi.demo.loader import load_demo_region
from gongzhi.demo.region import load_region
from gongzhi.registry import models as reg
from gongzhi.registry import services
from gongzhi.sharing import policy

pytestmark = pytest.mark.django_db  # pytest-django sets up only the databases tests ask for


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """Load the demo region once for this module, inside a transaction rolled back at the end."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            report = load_demo_region(data_dir=tmp_path_factory.mktemp("demo"))
            yield report
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def in_demo(demo, django_db_blocker):
    with django_db_blocker.unblock():
        yield demo


def test_everything_in_region_json_is_loaded(in_demo):
    region = load_region()
    assert reg.Jurisdiction.objects.count() == len(region["jurisdictions"])
    assert reg.Bureau.objects.count() == len(region["bureaus"])
    assert reg.Site.objects.count() == len(region["sites"])
    assert reg.Enterprise.objects.count() == len(region["enterprises"])
    assert reg.Device.objects.count() == len(region["devices"])
    assert User.objects.filter(bureau__isnull=False).count() == len(region["users"])
    assert reg.Reach.objects.count() == len(region["river_network"]["reaches"])
    # the six districts carry their real (converted) boundaries, areas as SOURCES.md gives them
    areas = dict(reg.Jurisdiction.objects.filter(level="county").values_list("adcode", "area_km2"))
    assert areas["320509"] == pytest.approx(1227.1, abs=1.0)  # Wujiang
    assert areas["310114"] == pytest.approx(462.5, abs=1.0)  # Jiading
    # every write of the loader is in the audit trail, attributed to the demo loader
    assert AuditEvent.objects.filter(model="registry.Site", action="create", via="demo").count() == len(region["sites"])


def test_a_second_load_changes_nothing(in_demo, tmp_path):
    before = reg.Site.objects.count()
    again = load_demo_region(data_dir=tmp_path)
    assert again.skipped and reg.Site.objects.count() == before


def test_joint_zone_lists_a_known_inside_site_and_not_an_outside_one(in_demo):
    """金泽水文站 lies ~129 m from the Qingpu–Jiashan border (inside the 500 m band of 青吴嘉);
    the 嘉定南翔 air station (3268A) is ~15 km from any 嘉昆太 shared border."""
    qingwujia = reg.JointGovernanceZone.objects.get(code="qingwujia")
    jiakuntai = reg.JointGovernanceZone.objects.get(code="jiakuntai")
    inside = {s.name: d for s, d in services.objects_in_joint_zone(qingwujia)["sites"]}
    assert "金泽水文站" in inside and 100 < inside["金泽水文站"] < 160
    assert all(d <= qingwujia.band_width_m + 1 for d in inside.values())
    jkt = {s.external_code or s.code for s, _ in services.objects_in_joint_zone(jiakuntai)["sites"]}
    assert "3268A" not in jkt
    # the zone's shared boundaries are the real ones (lengths as SOURCES.md gives them, ±3 %)
    lengths = {
        frozenset((b.a.adcode, b.b.adcode)): b.length_m / 1000 for b in reg.SharedBoundary.objects.select_related("a", "b")
    }
    assert lengths[frozenset(("310118", "330421"))] == pytest.approx(24.5, rel=0.03)
    assert lengths[frozenset(("310114", "320585"))] == pytest.approx(48.5, rel=0.03)


def test_every_bureau_user_can_log_in(in_demo, client):
    rows = {u: pw for u, pw, *_ in in_demo.users}
    bureaus = set(reg.Bureau.objects.values_list("code", flat=True))
    seen = set()
    for user in User.objects.filter(bureau__isnull=False, role="administrator").select_related("bureau"):
        assert client.login(username=user.username, password=rows[user.username]), user.username
        page = client.get("/")
        assert page.status_code == 200 and user.bureau.name in page.content.decode()
        client.logout()
        seen.add(user.bureau.code)
    assert seen == bureaus


def test_partners_see_each_others_boundary_sections_by_agreement(in_demo):
    kunshan = User.objects.get(username="kunshan_admin")
    jishui = reg.Site.objects.get(name="急水港", owner__code="qingpu")  # Kunshan → Qingpu boundary section
    assert policy.can_view(kunshan, jishui) and policy.data_level(kunshan, jishui) == "raw"
    assert not policy.can_change(kunshan, jishui)
    # Jiading shares with Kunshan only boundary sections between the two; there are none
    jiading_sites = reg.Site.objects.filter(owner__code="jiading")
    assert jiading_sites.exists()
    assert not any(policy.can_view(kunshan, s) for s in jiading_sites)
    assert not policy.visible(kunshan, jiading_sites).exists()
