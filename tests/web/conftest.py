"""The region fixture of the page tests (see web_helpers.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from gongzhi.registry import models as reg
from gongzhi.registry import services as reg_services
from gongzhi.sharing.models import SharingAgreement
from web_helpers import make_user, square


@pytest.fixture
def web_region(db):
    reg_services.seed_parameter_catalog()
    qp_j = reg.Jurisdiction.objects.create(adcode="310118", name="青浦区", name_en="Qingpu", level="county", boundary=square(121.0, 31.1))
    ks_j = reg.Jurisdiction.objects.create(adcode="320583", name="昆山市", name_en="Kunshan", level="county", boundary=square(120.9, 31.1))
    js_j = reg.Jurisdiction.objects.create(adcode="330421", name="嘉善县", name_en="Jiashan", level="county", boundary=square(120.9, 31.0))
    qp = reg.Bureau.objects.create(code="qingpu", name="青浦区生态环境局", short_name="青浦", name_en="Qingpu EEB", jurisdiction=qp_j)
    ks = reg.Bureau.objects.create(code="kunshan", name="昆山市生态环境局", short_name="昆山", name_en="Kunshan EEB", jurisdiction=ks_j)
    js = reg.Bureau.objects.create(code="jiashan", name="嘉善县生态环境局", short_name="嘉善", jurisdiction=js_j)
    zone = reg.JointGovernanceZone.objects.create(code="qk", name="青昆联防联治区", band_width_m=500)
    zone.bureaus.set([qp, ks])
    reg_services.compute_joint_zone(zone=zone)
    river = reg.Waterbody.objects.create(
        code="jishui", name="急水港", name_en="Jishuigang", kind="river",
        geometry={"type": "LineString", "coordinates": [[120.95, 31.15], [121.0, 31.15], [121.05, 31.15]]},
    )
    lake = reg.Waterbody.objects.create(code="dianshan", name="淀山湖", kind="lake")
    qp_boundary = reg.Site.objects.create(
        code="QP-W1", name="急水港交界断面", name_en="Jishuigang boundary", kind="water_section", owner=qp, jurisdiction=qp_j,
        lon=121.003, lat=31.15, waterbody=river, target_class=3, assessment_level="national", is_boundary=True,
        upstream_jurisdiction=ks_j, downstream_jurisdiction=qp_j,
    )
    qp_lake = reg.Site.objects.create(
        code="QP-W2", name="淀山湖湖心", kind="water_section", owner=qp, jurisdiction=qp_j,
        lon=121.04, lat=31.12, waterbody=lake, target_class=3, assessment_level="provincial",
    )
    qp_air = reg.Site.objects.create(code="QP-A1", name="青浦城区站", kind="air_station", owner=qp, jurisdiction=qp_j, lon=121.08, lat=31.16, assessment_level="national")
    ks_water = reg.Site.objects.create(
        code="KS-W1", name="昆山急水港", kind="water_section", owner=ks, jurisdiction=ks_j,
        lon=120.97, lat=31.15, waterbody=river, target_class=3, assessment_level="provincial",
    )
    ks_air = reg.Site.objects.create(code="KS-A1", name="昆山震川中学站", kind="air_station", owner=ks, jurisdiction=ks_j, lon=120.95, lat=31.17, assessment_level="national")
    js_water = reg.Site.objects.create(
        code="JS-W1", name="嘉善某断面", kind="water_section", owner=js, jurisdiction=js_j,
        lon=120.95, lat=31.05, waterbody=river, target_class=3, assessment_level="municipal",
    )
    sa = SharingAgreement.objects.create(provider=qp, recipient=ks, title="青浦→昆山 交界断面", purpose="联防联治",
                                         valid_from=timezone.localdate() - dt.timedelta(days=400), level="raw")
    sa.sites.set([qp_boundary])
    return {
        "qp": qp, "ks": ks, "js": js, "zone": zone, "river": river, "lake": lake,
        "qp_boundary": qp_boundary, "qp_lake": qp_lake, "qp_air": qp_air, "ks_water": ks_water, "ks_air": ks_air, "js_water": js_water,
        "qp_user": make_user("qp-analyst", qp), "ks_user": make_user("ks-analyst", ks), "js_user": make_user("js-analyst", js),
    }

