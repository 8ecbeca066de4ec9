"""The server-rendered pages: health check, sign-in requirement, the overview (the former home
page; the home page is now the one map, tests/web/test_map.py), joint-zone page."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import timezone

from gongzhi.accounts.models import Role, User
from gongzhi.registry import models as reg
from gongzhi.sharing.models import SharingAgreement

pytestmark = pytest.mark.django_db

EXPECTED_VENDOR = {"django.db.backends.sqlite3": "sqlite", "django.db.backends.postgresql": "postgresql"}


def test_healthz_answers_json_without_signing_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"ok": True, "database": EXPECTED_VENDOR[settings.DATABASES["default"]["ENGINE"]]}


@pytest.mark.parametrize("path", ["/", "/overview/", "/joint-zones/jkt/", "/joint-zones/no-such-zone/"])
def test_pages_need_a_signed_in_user(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login/?next={path}"


def test_the_login_page_is_public(client):
    assert client.get("/login/").status_code == 200


@pytest.fixture
def region():
    jd = reg.Bureau.objects.create(code="jiading", name="上海市嘉定区生态环境局", short_name="嘉定")
    ks = reg.Bureau.objects.create(code="kunshan", name="昆山市生态环境局", short_name="昆山")
    tc = reg.Bureau.objects.create(code="taicang", name="太仓市生态环境局", short_name="太仓")
    zone = reg.JointGovernanceZone.objects.create(code="jkt", name="嘉昆太协作区")
    zone.bureaus.set([jd, ks, tc])
    river = reg.Waterbody.objects.create(code="wusong", name="吴淞江", kind="river")
    for b, n in ((jd, 2), (ks, 3), (tc, 1)):
        for i in range(n):
            reg.Site.objects.create(code=f"{b.code}-{i}", name=f"{b.short_name}断面{i}", kind="water_section",
                                    owner=b, lon=121.2, lat=31.4, waterbody=river, assessment_level="provincial")
    reg.Enterprise.objects.create(code="ks-e1", name="昆山某厂", owner=ks, lon=121, lat=31.3)
    SharingAgreement.objects.create(provider=jd, recipient=ks, title="嘉定→昆山", purpose="p",
                                    valid_from=timezone.localdate(), all_sites=True, all_enterprises=True)
    return {"jd": jd, "ks": ks, "tc": tc}


def _user(name, bureau, role=Role.VIEWER):
    return User.objects.create_user(username=name, password="x" * 12, bureau=bureau, role=role)


def test_home_page_of_a_kunshan_user(client, region):
    client.force_login(_user("ks-viewer", region["ks"]))
    response = client.get("/overview/")
    page = response.content.decode()
    assert [s.code for s in response.context["own_sites"]] == ["kunshan-0", "kunshan-1", "kunshan-2"]
    assert [s.code for s in response.context["shared_sites"]] == ["jiading-0", "jiading-1"]
    assert response.context["enterprise_count"] == 1
    assert "昆山市生态环境局" in page and "只读用户" in page
    assert "嘉昆太协作区" in page and "/joint-zones/jkt/" in page and "嘉定、昆山、太仓" in page
    assert "吴淞江" in page and "省考" in page
    assert "嘉定→昆山" in page
    assert "太仓断面" not in page


def test_home_page_of_a_taicang_user(client, region):
    client.force_login(_user("tc-admin", region["tc"], Role.ADMINISTRATOR))
    response = client.get("/overview/")
    page = response.content.decode()
    assert [s.code for s in response.context["own_sites"]] == ["taicang-0"]
    assert response.context["shared_sites"] == []
    assert response.context["enterprise_count"] == 0
    assert list(response.context["agreements"]) == []
    assert "管理员" in page and "嘉定断面" not in page and "昆山断面" not in page
    assert "管理后台" not in page  # not staff


def test_home_page_of_a_superuser(client, region):
    client.force_login(User.objects.create_superuser(username="root", password="x" * 12))
    response = client.get("/overview/")
    assert len(response.context["shared_sites"]) == 6 and response.context["own_sites"] == []
    page = response.content.decode()
    assert "平台运维" in page and "管理后台" in page


def test_joint_zone_page_404_for_an_unknown_code(client, region):
    client.force_login(_user("ks-viewer", region["ks"]))
    assert client.get("/joint-zones/no-such-zone/").status_code == 404


def test_home_page_query_count_does_not_grow_with_sites(client, region):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(_user("ks-viewer", region["ks"]))
    client.get("/overview/")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/overview/").status_code == 200
        return len(ctx.captured_queries)

    before = queries()
    for i in range(5):
        reg.Site.objects.create(code=f"jd-more-{i}", name=f"more{i}", kind="water_section", owner=region["jd"],
                                lon=121.2, lat=31.4, waterbody=reg.Waterbody.objects.create(code=f"w{i}", name="w", kind="river"))
        reg.Site.objects.create(code=f"ks-more-{i}", name=f"more{i}", kind="air_station", owner=region["ks"],
                                lon=121.2, lat=31.4)
    assert len(client.get("/overview/").context["shared_sites"]) == 7
    assert queries() == before


def _square(lon0, lat0, size=0.1):
    ring = [[lon0, lat0], [lon0 + size, lat0], [lon0 + size, lat0 + size], [lon0, lat0 + size], [lon0, lat0]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_joint_zone_page_lists_what_the_user_may_see_near_the_shared_boundary(client):
    """Two neighbours sharing the meridian 121.0° E; the band is 500 m either side of it."""
    qp_j = reg.Jurisdiction.objects.create(adcode="310118", name="青浦区", level="county", boundary=_square(121.0, 31.1))
    ks_j = reg.Jurisdiction.objects.create(adcode="320583", name="昆山市", level="county", boundary=_square(120.9, 31.1))
    qp = reg.Bureau.objects.create(code="qingpu", name="青浦区生态环境局", short_name="青浦", jurisdiction=qp_j)
    ks = reg.Bureau.objects.create(code="kunshan", name="昆山市生态环境局", short_name="昆山", jurisdiction=ks_j)
    zone = reg.JointGovernanceZone.objects.create(code="qk", name="青昆协作区", band_width_m=500)
    zone.bureaus.set([qp, ks])
    # ~190 m and ~285 m from the border (1° of longitude ≈ 95 km at 31.15° N), and one 5 km away
    reg.Site.objects.create(code="ks-near", name="昆山近界断面", kind="water_section", owner=ks, lon=120.998, lat=31.15)
    reg.Site.objects.create(code="qp-near", name="青浦近界断面", kind="water_section", owner=qp, lon=121.003, lat=31.15)
    reg.Site.objects.create(code="qp-far", name="青浦远界断面", kind="water_section", owner=qp, lon=121.05, lat=31.15)
    reg.Enterprise.objects.create(code="qp-e", name="青浦近界企业", owner=qp, lon=121.001, lat=31.12)
    client.force_login(_user("ks-viewer", ks))

    response = client.get("/joint-zones/qk/")
    assert response.status_code == 200
    assert [(s.code, round(d, -1)) for s, d in response.context["sites"]] == [("ks-near", 190.0)]
    assert response.context["enterprises"] == []
    assert "共同边界两侧 500 米" in response.content.decode()

    SharingAgreement.objects.create(provider=qp, recipient=ks, title="t", purpose="p",
                                    valid_from=timezone.localdate(), all_sites=True)
    response = client.get("/joint-zones/qk/")
    assert [s.code for s, _ in response.context["sites"]] == ["ks-near", "qp-near"]  # nearest first; far one outside
    assert response.context["enterprises"] == []  # sites were shared, enterprises were not


def test_chinese_by_default_even_for_an_english_browser(client):
    """The interface is zh-Hans unless the user switched: Accept-Language alone does not change it."""
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert page.status_code == 200
    assert "登录" in page.content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "登录" not in page.content.decode()
