"""A small registry for the registry tests: three bureaus (Kunshan, Qingpu, Wujiang)
and the regional office, their jurisdictions, three waterbodies, a reach, sites,
enterprises with outlets and limits, devices, the parameter catalog and users."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gongzhi.accounts.models import Role, User
from gongzhi.registry import models as reg
from gongzhi.registry import services

PASSWORD = "pw-for-tests-1"


def build_registry() -> SimpleNamespace:
    ns = SimpleNamespace()
    J = reg.Jurisdiction.objects.create
    sh = J(adcode="310000", name="上海市", level="province")
    js = J(adcode="320000", name="江苏省", level="province")
    sz = J(adcode="320500", name="苏州市", level="city", parent=js)
    ns.j_qingpu = J(adcode="310118", name="青浦区", level="county", parent=sh)
    ns.j_kunshan = J(adcode="320583", name="昆山市", level="county", parent=sz)
    ns.j_wujiang = J(adcode="320509", name="吴江区", level="county", parent=sz)
    B = reg.Bureau.objects.create
    ns.office = B(code="yrd_office", name="长三角示范区协同办公室", short_name="协同办", kind="office")
    ns.kunshan = B(code="kunshan", name="苏州市昆山生态环境局", short_name="昆山", jurisdiction=ns.j_kunshan)
    ns.qingpu = B(code="qingpu", name="上海市青浦区生态环境局", short_name="青浦", jurisdiction=ns.j_qingpu)
    ns.wujiang = B(code="wujiang", name="苏州市吴江生态环境局", short_name="吴江", jurisdiction=ns.j_wujiang)
    W = reg.Waterbody.objects.create
    ns.dianshan = W(code="dianshan", name="淀山湖", kind="lake")
    ns.wusong = W(code="wusong", name="吴淞江", kind="river")
    ns.taipu = W(code="taipu", name="太浦河", kind="river")
    n1 = reg.RiverNode.objects.create(code="N-TPH-1", name="太浦河闸", lon=120.50, lat=31.00)
    n2 = reg.RiverNode.objects.create(code="N-TPH-2", name="汾湖", lon=120.80, lat=31.02)
    ns.reach = reg.Reach.objects.create(
        code="R-TPH-1", waterbody=ns.taipu, from_node=n1, to_node=n2, length_m=30000, velocity_m_s=0.2
    )
    services.seed_parameter_catalog()
    ns.cod = reg.Parameter.objects.get(key="cod")
    ns.nh3n = reg.Parameter.objects.get(key="nh3_n")
    S = reg.Site.objects.create
    ns.site_ks = S(code="W320583-001", name="昆山测试断面", kind="water_section", owner=ns.kunshan,
                   jurisdiction=ns.j_kunshan, lon=120.95, lat=31.12, waterbody=ns.dianshan, target_class=3)
    ns.site_qp = S(code="W310118-001", name="青浦测试断面", kind="water_section", owner=ns.qingpu,
                   jurisdiction=ns.j_qingpu, lon=120.90, lat=31.10, waterbody=ns.dianshan, target_class=3,
                   is_boundary=True, upstream_jurisdiction=ns.j_kunshan, downstream_jurisdiction=ns.j_qingpu)
    ns.site_wj = S(code="A320509-001", name="吴江测试空气站", kind="air_station", owner=ns.wujiang,
                   jurisdiction=ns.j_wujiang, lon=120.64, lat=31.16)
    E = reg.Enterprise.objects.create
    ns.ent_ks = E(code="E320583-01", name="昆山测试化工", owner=ns.kunshan, lon=120.96, lat=31.30)
    ns.ent_qp = E(code="E310118-01", name="青浦测试印染", owner=ns.qingpu, lon=120.91, lat=31.11)
    ns.outlet_ks = reg.Outlet.objects.create(enterprise=ns.ent_ks, code="DW001", name="废水总排口", kind="wastewater", lon=120.96, lat=31.30)
    ns.outlet_qp = reg.Outlet.objects.create(enterprise=ns.ent_qp, code="DW001", name="废水总排口", kind="wastewater", lon=120.91, lat=31.11)
    ns.limit_ks = reg.PermitLimit.objects.create(outlet=ns.outlet_ks, parameter=ns.cod, period="day", limit=80, unit="mg/L", standard="测试许可证")
    ns.limit_qp = reg.PermitLimit.objects.create(outlet=ns.outlet_qp, parameter=ns.cod, period="day", limit=80, unit="mg/L", standard="测试许可证")
    ns.dev_ks = reg.Device.objects.create(mn="KS0001", password="123456", system_code="21", site=ns.site_ks)
    ns.dev_qp = reg.Device.objects.create(mn="QP0001", password="654321", system_code="32", outlet=ns.outlet_qp)
    ns.dev_ks.parameters.set([ns.cod, ns.nh3n])
    ns.zone = reg.JointGovernanceZone.objects.create(code="qingwujia", name="青吴嘉测试协作区")
    ns.zone.bureaus.set([ns.qingpu, ns.wujiang])
    reg.UnknownCode.objects.create(code="x99001", count=7, example_source="KS0001")

    def user(username, bureau, role, **extra):
        return User.objects.create_user(username=username, password=PASSWORD, bureau=bureau, role=role, is_staff=True, **extra)

    ns.root = User.objects.create_superuser(username="root", password=PASSWORD, email="root@example.org")
    ns.ks_admin = user("ks_admin", ns.kunshan, Role.ADMINISTRATOR)
    ns.ks_monitor = user("ks_monitor", ns.kunshan, Role.MONITORING_STAFF)
    ns.ks_viewer = user("ks_viewer", ns.kunshan, Role.VIEWER)
    ns.qp_admin = user("qp_admin", ns.qingpu, Role.ADMINISTRATOR)
    ns.office_admin = user("office_admin", ns.office, Role.ADMINISTRATOR)
    return ns


@pytest.fixture
def registry(db) -> SimpleNamespace:
    return build_registry()
