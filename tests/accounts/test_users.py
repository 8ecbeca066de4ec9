"""Users: the bureau constraint, roles, signing in and out, the home page per policy, language."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from gongzhi.accounts.models import Role, User
from gongzhi.registry import models as reg
from gongzhi.sharing.models import DataLevel, SharingAgreement

pytestmark = pytest.mark.django_db
PASSWORD = "Gongzhi-2024-pass"


@pytest.fixture
def bureaus():
    ks = reg.Bureau.objects.create(code="kunshan", name="昆山市生态环境局", short_name="昆山", name_en="Kunshan")
    qp = reg.Bureau.objects.create(code="qingpu", name="上海市青浦区生态环境局", short_name="青浦", name_en="Qingpu")
    return ks, qp


@pytest.fixture
def sites(bureaus):
    ks, qp = bureaus
    qp_j = reg.Jurisdiction.objects.create(adcode="310118", name="青浦区", level="county")
    ks_j = reg.Jurisdiction.objects.create(adcode="320583", name="昆山市", level="county")
    own = reg.Site.objects.create(code="ks-s1", name="昆山自有断面", kind="water_section", owner=ks, lon=120.98, lat=31.38)
    boundary = reg.Site.objects.create(
        code="qp-boundary", name="青浦跨界断面", kind="water_section", owner=qp, lon=121.05, lat=31.25,
        is_boundary=True, upstream_jurisdiction=ks_j, downstream_jurisdiction=qp_j,
    )
    inland = reg.Site.objects.create(code="qp-inland", name="青浦内部断面", kind="water_section", owner=qp, lon=121.1, lat=31.15)
    return own, boundary, inland


def _user(username, bureau, role=Role.ANALYST, **extra):
    return User.objects.create_user(username=username, password=PASSWORD, bureau=bureau, role=role, **extra)


# --- the model ------------------------------------------------------------------------------------------


def test_a_user_without_a_bureau_is_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="nobody", password=PASSWORD)
    assert not User.objects.filter(username="nobody").exists()


def test_the_bureau_rule_is_also_a_validation_error():
    with pytest.raises(ValidationError):
        User(username="nobody", password="x").full_clean()


def test_a_superuser_needs_no_bureau(bureaus):
    root = User.objects.create_superuser(username="root", password=PASSWORD)
    assert root.bureau is None and root.is_superuser
    # taking the superuser flag away without giving a bureau breaks the rule
    root.is_superuser = False
    with pytest.raises(IntegrityError), transaction.atomic():
        root.save()
    root.refresh_from_db()
    root.is_superuser, root.bureau = False, bureaus[0]
    root.save()


def test_roles(bureaus):
    assert [r.value for r in Role] == [
        "administrator", "monitoring_staff", "analyst", "enforcement_officer", "river_chief",
        "emergency_duty_officer", "viewer",
    ]
    u = User.objects.create_user(username="new", password=PASSWORD, bureau=bureaus[0])
    assert u.role == Role.VIEWER  # least privilege by default
    assert u.get_role_display() == "只读用户"
    u.role = "mayor"
    with pytest.raises(ValidationError):
        u.full_clean()


def test_str_names_the_bureau(bureaus):
    u = _user("liwei", bureaus[0], first_name="伟", last_name="李")
    assert str(u).endswith("(昆山)")
    assert str(User.objects.create_superuser(username="root", password=PASSWORD)) == "root"


# --- signing in and out ---------------------------------------------------------------------------------


def test_sign_in_and_out_through_the_pages(client, bureaus):
    _user("ks-analyst", bureaus[0])
    page = client.get("/login/")
    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    response = client.post("/login/", {"username": "ks-analyst", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and "ks-analyst" in home.content.decode()
    assert client.get("/logout/").status_code == 405  # signing out is a POST (CSRF-protected form)
    response = client.post("/logout/")
    assert response.status_code == 302 and response.headers["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_sign_in_returns_to_the_page_asked_for(client, bureaus):
    _user("ks-analyst", bureaus[0])
    response = client.post("/login/", {"username": "ks-analyst", "password": PASSWORD, "next": "/healthz"})
    assert response.headers["Location"] == "/healthz"
    client.post("/logout/")
    response = client.post("/login/", {"username": "ks-analyst", "password": PASSWORD, "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"  # never off-site


@pytest.mark.parametrize("password", ["wrong-password", ""])
def test_a_wrong_password_is_refused(client, bureaus, password):
    _user("ks-analyst", bureaus[0])
    response = client.post("/login/", {"username": "ks-analyst", "password": password})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()
    assert client.get("/").status_code == 302


def test_an_inactive_user_cannot_sign_in(client, bureaus):
    _user("left", bureaus[0], is_active=False)
    response = client.post("/login/", {"username": "left", "password": PASSWORD})
    assert response.status_code == 200
    assert client.get("/").status_code == 302


# --- the home page follows the policy --------------------------------------------------------------------


def _home(client, user) -> str:
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def test_kunshan_sees_qingpus_boundary_section_only_under_an_agreement(client, bureaus, sites):
    ks, qp = bureaus
    own, boundary, inland = sites
    ks_user = _user("ks-analyst", ks)
    page = _home(client, ks_user)
    assert own.name in page and boundary.name not in page and inland.name not in page
    assert client.get("/").context["shared_sites"] == []

    agreement = SharingAgreement.objects.create(
        provider=qp, recipient=ks, title="青昆跨界断面数据共享", purpose="跨界断面水质联合监测",
        level=DataLevel.VALIDATED, valid_from=timezone.localdate() - timedelta(days=1),
    )
    agreement.sites.set([boundary])
    page = _home(client, ks_user)
    assert own.name in page and boundary.name in page and inland.name not in page
    assert "青昆跨界断面数据共享" in page
    response = client.get("/")
    assert [s.code for s in response.context["own_sites"]] == ["ks-s1"]
    assert [s.code for s in response.context["shared_sites"]] == ["qp-boundary"]

    # suspended by the provider: gone again (the agreement itself stays listed for its parties)
    agreement.active = False
    agreement.save()
    page = _home(client, ks_user)
    assert boundary.name not in page


def test_an_agreement_that_has_ended_shares_nothing_on_the_home_page(client, bureaus, sites):
    ks, qp = bureaus
    _, boundary, _ = sites
    today = timezone.localdate()
    agreement = SharingAgreement.objects.create(
        provider=qp, recipient=ks, title="旧协议", purpose="x", valid_from=today - timedelta(days=30),
        valid_to=today - timedelta(days=1), all_sites=True,
    )
    assert boundary.name not in _home(client, _user("ks-analyst", ks))
    agreement.valid_to = today
    agreement.save()
    assert boundary.name in _home(client, User.objects.get(username="ks-analyst"))


def test_the_provider_sees_its_sites_as_its_own(client, bureaus, sites):
    ks, qp = bureaus
    _, boundary, inland = sites
    SharingAgreement.objects.create(
        provider=qp, recipient=ks, title="t", purpose="p", valid_from=timezone.localdate(), all_sites=True
    )
    client.force_login(_user("qp-monitor", qp, Role.MONITORING_STAFF))
    response = client.get("/")
    assert {s.code for s in response.context["own_sites"]} == {"qp-boundary", "qp-inland"}
    assert response.context["shared_sites"] == []  # Kunshan gives Qingpu nothing


# --- language -------------------------------------------------------------------------------------------


def test_chinese_is_the_default_language(client, bureaus, sites):
    page = _home(client, _user("ks-analyst", bureaus[0]))
    assert '<html lang="zh-hans">' in page
    assert "本局站点" in page and "分析人员" in page


def test_switching_to_english(client, bureaus, sites):
    user = _user("ks-analyst", bureaus[0])
    client.force_login(user)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").content.decode()
    assert '<html lang="en">' in page
    for english in ("Our monitoring sites", "Sites shared by partners", "Sharing agreements", "Analyst", "Sign out",
                    "Water quality section"):
        assert english in page, english
    for chinese in ("本局站点", "协作方共享站点", "分析人员", "退出"):
        assert chinese not in page, chinese
    client.post("/logout/")
    login = client.get("/login/").content.decode()
    assert "Sign in" in login and "Password" in login and "密码" not in login


def test_switching_back_to_chinese(client, bureaus):
    client.force_login(_user("ks-analyst", bureaus[0]))
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "本局站点" in client.get("/").content.decode()


def test_an_unknown_language_is_ignored(client, bureaus):
    client.force_login(_user("ks-analyst", bureaus[0]))
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    assert "本局站点" in client.get("/").content.decode()
