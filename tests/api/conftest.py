"""A small region for the API tests: three bureaus, an office, sites, users, tokens.

* Qingpu owns W1 (boundary section on 急水港, national), W3 (not shared) and A1 (air).
* Kunshan owns W2; Qingpu shares W1 with Kunshan when a test calls :func:`api_helpers.share`.
* Jiashan has no agreement at all; the office sees every site but no data.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from gongzhi.accounts.models import Role, User
from gongzhi.api import services as api_services
from gongzhi.observations import services as obs
from gongzhi.registry import models as reg
from gongzhi.registry import services as reg_services



@pytest.fixture
def world(db):
    reg_services.seed_parameter_catalog()
    obs.series_resolver.clear()
    sh = reg.Jurisdiction.objects.create(adcode="310000", name="上海市", level="province")
    js_prov = reg.Jurisdiction.objects.create(adcode="320000", name="江苏省", level="province")
    qp = reg.Jurisdiction.objects.create(adcode="310118", name="青浦区", level="county", parent=sh)
    ks = reg.Jurisdiction.objects.create(adcode="320583", name="昆山市", level="county", parent=js_prov)
    jsn = reg.Jurisdiction.objects.create(adcode="330421", name="嘉善县", level="county")
    qingpu = reg.Bureau.objects.create(code="qingpu", name="青浦区生态环境局", short_name="青浦", jurisdiction=qp)
    kunshan = reg.Bureau.objects.create(code="kunshan", name="昆山生态环境局", short_name="昆山", jurisdiction=ks)
    jiashan = reg.Bureau.objects.create(code="jiashan", name="嘉善县生态环境局", short_name="嘉善", jurisdiction=jsn)
    office = reg.Bureau.objects.create(code="office", name="示范区协同办", short_name="协同办", kind=reg.BureauKind.OFFICE)
    river = reg.Waterbody.objects.create(code="jishui", name="急水港", kind="river")
    lake = reg.Waterbody.objects.create(code="dianshan", name="淀山湖", kind="lake")
    w1 = reg.Site.objects.create(
        code="W1", name="急水港桥", kind="water_section", owner=qingpu, jurisdiction=qp, lon=120.95, lat=31.10,
        waterbody=river, is_boundary=True, upstream_jurisdiction=ks, downstream_jurisdiction=qp,
        assessment_level="national", target_class=3,
    )
    w2 = reg.Site.objects.create(
        code="W2", name="周庄", kind="water_section", owner=kunshan, jurisdiction=ks, lon=120.85, lat=31.12,
        waterbody=river, assessment_level="provincial",
    )
    w3 = reg.Site.objects.create(
        code="W3", name="淀山湖心", kind="water_section", owner=qingpu, jurisdiction=qp, lon=120.97, lat=31.13,
        waterbody=lake, assessment_level="municipal",
    )
    a1 = reg.Site.objects.create(code="A1", name="青浦监测站", kind="air_station", owner=qingpu, jurisdiction=qp, lon=121.1, lat=31.15)
    mk = User.objects.create_user
    users = {
        "qp_monitor": mk("qp_monitor", password="x-1234567", bureau=qingpu, role=Role.MONITORING_STAFF),
        "ks_analyst": mk("ks_analyst", password="x-1234567", bureau=kunshan, role=Role.ANALYST),
        "js_analyst": mk("js_analyst", password="x-1234567", bureau=jiashan, role=Role.ANALYST),
        "office_admin": mk("office_admin", password="x-1234567", bureau=office, role=Role.ADMINISTRATOR),
    }
    tokens = {name: api_services.create_token(user=u).secret for name, u in users.items()}
    return {
        "bureaus": {"qingpu": qingpu, "kunshan": kunshan, "jiashan": jiashan, "office": office},
        "sites": {"W1": w1, "W2": w2, "W3": w3, "A1": a1},
        "users": users, "tokens": tokens,
        "nh3": reg.Parameter.objects.get(key="nh3_n"), "tp": reg.Parameter.objects.get(key="tp"),
        "pm25": reg.Parameter.objects.get(key="pm2_5"),
    }


class ApiClient:
    """A Django test client that sends a bearer token."""

    def __init__(self, token: str | None = None) -> None:
        self.client = Client()
        self.token = token

    def _headers(self, headers):
        h = dict(headers or {})
        if self.token is not None:
            h.setdefault("Authorization", f"Bearer {self.token}")
        return h

    def get(self, path, params=None, headers=None):
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def post(self, path, body=None, headers=None, raw: bytes | None = None):
        import json

        data = raw if raw is not None else json.dumps(body)
        return self.client.post(path, data=data, content_type="application/json", headers=self._headers(headers))


@pytest.fixture
def api(world):
    """``api("qp_monitor")``: a client with that user's token; ``api(None)``: anonymous."""

    def make(user: str | None = None, *, token: str | None = None) -> ApiClient:
        return ApiClient(token if token is not None else (world["tokens"][user] if user else None))

    return make
