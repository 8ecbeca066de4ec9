"""The admin: renders for everyone who may use it, and every decision is the policy's."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.urls import reverse

from gongzhi.accounts.models import User
from gongzhi.audit.models import AuditEvent
from gongzhi.registry import models as reg
from gongzhi.registry import services
from gongzhi.sharing.models import SharingAgreement

OUR_APPS = {"registry", "sharing", "accounts", "audit"}


# devices carry passwords: only their owners see them, and the office owns none;
# the office is party to no agreement in the fixture
EMPTY_FOR = {("office_admin", reg.Device), ("office_admin", SharingAgreement)}


def url(obj_or_model, action="changelist", *args):
    opts = obj_or_model._meta
    if action == "change":
        args = (obj_or_model.pk,)
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{action}", args=args)


def our_models():
    return [m for m in admin.site._registry if m._meta.app_label in OUR_APPS]


@pytest.fixture
def agreement(registry):
    sa = SharingAgreement.objects.create(
        provider=registry.qingpu, recipient=registry.kunshan, title="青浦→昆山 交界断面", purpose="测试",
        level="raw", valid_from=dt.date(2020, 1, 1),
    )
    sa.sites.set([registry.site_qp])
    return sa


def login(client, user):
    client.force_login(user)
    return client


def test_every_registry_model_has_an_admin():
    registered = {m.__name__ for m in our_models()}
    expected = {
        "Jurisdiction", "Bureau", "JointGovernanceZone", "SharedBoundary", "Waterbody", "RiverNode", "Reach",
        "Site", "Enterprise", "Outlet", "PermitLimit", "Device", "Parameter", "ParameterAlias", "UnknownCode",
        "SharingAgreement", "User", "AuditEvent",
    }
    assert expected <= registered


def test_site_titles_are_chinese(client, registry):
    login(client, registry.root)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "共治 · 管理后台" in response.content.decode()


@pytest.mark.parametrize("username", ["root", "ks_admin", "office_admin"])
def test_every_changelist_and_change_page_renders(client, registry, username, agreement):
    user = User.objects.get(username=username)
    reg.SharedBoundary.objects.create(
        a=registry.j_qingpu, b=registry.j_kunshan, length_m=1200.0,
        line={"type": "LineString", "coordinates": [[120.9, 31.0], [120.9, 31.2]]},
    )
    login(client, user)
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    for model in our_models():
        model_admin = admin.site._registry[model]
        response = client.get(url(model))
        assert response.status_code == 200, (model, response.status_code)
        request = response.wsgi_request
        obj = model_admin.get_queryset(request).first()
        if obj is None:  # nothing there for this user (the policy's doing), and we know why
            assert (username, model) in EMPTY_FOR, (username, model)
        if obj is not None:
            page = client.get(url(obj, "change"))
            assert page.status_code == 200, (model, obj)
        if model_admin.has_add_permission(request):
            assert client.get(url(model, "add")).status_code == 200, model


def test_bureau_admin_sees_only_what_the_policy_allows(client, registry):
    login(client, registry.ks_admin)
    page = client.get(url(reg.Site)).content.decode()
    assert registry.site_ks.code in page
    assert registry.site_qp.code not in page
    assert registry.site_wj.code not in page
    for obj in (registry.site_qp, registry.ent_qp, registry.outlet_qp, registry.limit_qp, registry.dev_qp, registry.qp_admin):
        assert client.get(url(obj, "change")).status_code == 404, obj
        assert client.post(url(obj, "change"), {"name": "x"}).status_code == 404, obj
        assert client.get(url(obj, "delete", obj.pk)).status_code == 404, obj
    registry.site_qp.refresh_from_db()
    assert registry.site_qp.name == "青浦测试断面"


def test_shared_site_is_visible_but_read_only_for_the_partner(client, registry, agreement):
    login(client, registry.ks_admin)
    assert registry.site_qp.code in client.get(url(reg.Site)).content.decode()
    page = client.get(url(registry.site_qp, "change"))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    response = client.post(url(registry.site_qp, "change"), {"code": registry.site_qp.code, "name": "改名"})
    assert response.status_code == 403
    assert client.post(url(registry.site_qp, "delete", registry.site_qp.pk), {"post": "yes"}).status_code == 403
    assert reg.Site.objects.filter(pk=registry.site_qp.pk, name="青浦测试断面").exists()


def site_form(owner, **extra):
    data = {
        "code": "W320583-NEW", "name": "新断面", "kind": "water_section", "owner": owner.pk, "lon": "120.9",
        "lat": "31.1", "assessment_level": "none", "active": "on", "automatic": "on",
    }
    data.update(extra)
    return data


def test_bureau_admin_cannot_create_for_another_bureau(client, registry):
    login(client, registry.ks_admin)
    add = client.get(url(reg.Site, "add"))
    owner_field = add.context["adminform"].form.fields["owner"]
    assert list(owner_field.queryset) == [registry.kunshan]
    before = reg.Site.objects.count()
    response = client.post(url(reg.Site, "add"), site_form(registry.qingpu))
    assert response.status_code == 200  # the form comes back with an error
    assert "owner" in response.context["adminform"].form.errors
    assert reg.Site.objects.count() == before


def test_bureau_admin_creates_an_own_site_and_the_audit_names_them(client, registry):
    login(client, registry.ks_admin)
    response = client.post(url(reg.Site, "add"), site_form(registry.kunshan))
    assert response.status_code == 302, response.content.decode()[:2000]
    site = reg.Site.objects.get(code="W320583-NEW")
    event = AuditEvent.objects.get(model="registry.Site", object_id=str(site.pk), action="create")
    assert event.actor == registry.ks_admin
    assert event.via == "admin"
    assert event.changes["name"] == [None, "新断面"]


def test_viewer_may_look_but_not_add_or_change(client, registry):
    login(client, registry.ks_viewer)
    assert client.get(url(reg.Site)).status_code == 200
    assert client.get(url(reg.Site, "add")).status_code == 403
    assert client.get(url(registry.site_ks, "change")).status_code == 200
    assert client.post(url(registry.site_ks, "change"), site_form(registry.kunshan, code=registry.site_ks.code)).status_code == 403


def test_region_wide_objects_are_changed_by_office_administrators_only(client, registry):
    data = {"code": "dianshan", "name": "淀山湖（改）", "kind": "lake"}
    login(client, registry.ks_admin)
    assert client.get(url(registry.dianshan, "change")).status_code == 200
    assert client.post(url(registry.dianshan, "change"), data).status_code == 403
    assert client.get(url(reg.Waterbody, "add")).status_code == 403
    login(client, registry.office_admin)
    assert client.post(url(registry.dianshan, "change"), data).status_code == 302
    registry.dianshan.refresh_from_db()
    assert registry.dianshan.name == "淀山湖（改）"


def test_foreign_key_choices_are_restricted(client, registry):
    login(client, registry.ks_admin)
    form = client.get(url(reg.Device, "add")).context["adminform"].form
    assert set(form.fields["site"].queryset) == {registry.site_ks}
    assert set(form.fields["outlet"].queryset) == {registry.outlet_ks}
    form = client.get(url(reg.Outlet, "add")).context["adminform"].form
    assert set(form.fields["enterprise"].queryset) == {registry.ent_ks}
    form = client.get(url(SharingAgreement, "add")).context["adminform"].form
    assert set(form.fields["provider"].queryset) == {registry.kunshan}
    assert set(form.fields["sites"].queryset) == {registry.site_ks}


def test_device_password_only_for_who_may_change_it(client, registry):
    login(client, registry.ks_viewer)
    page = client.get(url(registry.dev_ks, "change")).content.decode()
    assert registry.dev_ks.mn in page
    assert "123456" not in page
    login(client, registry.ks_monitor)
    page = client.get(url(registry.dev_ks, "change")).content.decode()
    assert "123456" in page


def test_outlet_inline_and_limit_inline(client, registry):
    login(client, registry.ks_admin)
    page = client.get(url(registry.ent_ks, "change")).content.decode()
    assert "outlets-TOTAL_FORMS" in page
    page = client.get(url(registry.outlet_ks, "change")).content.decode()
    assert "limits-TOTAL_FORMS" in page


def test_user_admin_is_limited_to_the_bureau(client, registry):
    login(client, registry.ks_admin)
    page = client.get(url(User)).content.decode()
    assert "ks_viewer" in page and "qp_admin" not in page and "root" not in page.split("result_list")[-1]
    assert client.get(url(registry.root, "change")).status_code == 404
    form = client.get(url(User, "add")).context["adminform"].form
    assert list(form.fields["bureau"].queryset) == [registry.kunshan]
    change = client.get(url(registry.ks_viewer, "change"))
    assert change.status_code == 200
    fields = change.context["adminform"].form.fields
    assert "is_superuser" not in fields and "user_permissions" not in fields
    data = {
        "username": "ks_viewer", "bureau": registry.kunshan.pk, "role": "viewer", "is_active": "on",
        "is_staff": "on", "is_superuser": "on", "last_name": "", "first_name": "", "email": "", "phone": "",
    }
    response = client.post(url(registry.ks_viewer, "change"), data)
    assert response.status_code == 302
    registry.ks_viewer.refresh_from_db()
    assert registry.ks_viewer.is_superuser is False


def test_bureau_admin_adds_a_user_only_to_their_bureau(client, registry):
    login(client, registry.ks_admin)
    data = {
        "username": "ks_new", "usable_password": "true", "password1": "Long-enough-pw-42", "password2": "Long-enough-pw-42",
        "bureau": registry.qingpu.pk, "role": "viewer",
    }
    response = client.post(url(User, "add"), data)
    assert response.status_code == 200 and not User.objects.filter(username="ks_new").exists()
    data["bureau"] = registry.kunshan.pk
    response = client.post(url(User, "add"), data)
    assert response.status_code == 302
    assert User.objects.get(username="ks_new").bureau == registry.kunshan


def test_geometry_is_summarised_never_dumped(client, registry):
    ring = [[120.8 + i * 1e-4, 31.0 + (i % 7) * 1e-4] for i in range(3000)]
    ring.append(ring[0])
    registry.j_kunshan.boundary = {"type": "Polygon", "coordinates": [ring]}
    registry.j_kunshan.save()
    login(client, registry.root)
    page = client.get(url(registry.j_kunshan, "change")).content.decode()
    assert "GeoJSON Polygon" in page
    assert "3001" in page  # the number of points
    assert "120.8001" not in page
    assert 'name="boundary"' not in page


def test_change_page_links_to_its_audit_trail(client, registry):
    login(client, registry.ks_admin)
    client.post(url(reg.Site, "add"), site_form(registry.kunshan))
    site = reg.Site.objects.get(code="W320583-NEW")
    client.post(url(site, "change"), site_form(registry.kunshan, name="新断面二"))
    page = client.get(url(site, "change")).content.decode()
    link = reverse("admin:audit_auditevent_changelist") + f"?model=registry.Site&amp;object_id={site.pk}"
    assert "审计记录" in page and link in page
    trail = client.get(link.replace("&amp;", "&"))
    assert trail.status_code == 200
    shown = list(trail.context["cl"].result_list)
    assert {e.action for e in shown} == {"create", "update"}
    assert all(e.object_id == str(site.pk) and e.model == "registry.Site" for e in shown)


def test_joint_zone_action_and_listing_go_through_the_services(client, registry, monkeypatch, agreement):
    zone = reg.JointGovernanceZone.objects.create(code="qingkun", name="青昆测试区")
    zone.bureaus.set([registry.kunshan, registry.qingpu])
    calls = []

    def fake_compute(*, zone, actor=None, via="service"):
        calls.append((zone.code, actor, via))
        zone.band = {"type": "Polygon", "coordinates": [[[120.8, 31.0], [121.0, 31.0], [121.0, 31.2], [120.8, 31.0]]]}
        zone.save()
        return zone

    def fake_inside(z):
        return {"sites": [(registry.site_qp, 12.0), (registry.site_wj, 40.0)], "enterprises": [(registry.ent_qp, 300.0)]}

    monkeypatch.setattr(services, "compute_joint_zone", fake_compute)
    monkeypatch.setattr(services, "objects_in_joint_zone", fake_inside)
    login(client, registry.office_admin)
    response = client.post(url(reg.JointGovernanceZone), {"action": "recompute_band", "_selected_action": [zone.pk]})
    assert response.status_code == 302
    assert calls == [("qingkun", registry.office_admin, "admin")]
    # the listing shows only what the viewing user may see
    login(client, registry.ks_admin)
    page = client.get(url(zone, "change")).content.decode()
    assert registry.site_qp.code in page  # shared by the agreement
    assert registry.site_wj.code not in page  # Wujiang's, not shared
    assert registry.ent_qp.code not in page
    # a bureau administrator may not recompute
    calls.clear()
    client.post(url(reg.JointGovernanceZone), {"action": "recompute_band", "_selected_action": [zone.pk]})
    assert calls == []


def test_unknown_codes_are_mapped_by_an_action(client, registry):
    unknown = reg.UnknownCode.objects.get(code="x99001")
    login(client, registry.office_admin)
    changelist = client.get(url(reg.UnknownCode)).content.decode()
    assert "x99001" in changelist
    first = client.post(url(reg.UnknownCode), {"action": "map_to_parameter", "_selected_action": [unknown.pk]})
    assert first.status_code == 200 and "确认映射" in first.content.decode()
    done = client.post(
        url(reg.UnknownCode),
        {"action": "map_to_parameter", "_selected_action": [unknown.pk], "apply": "1", "parameter": registry.cod.pk},
    )
    assert done.status_code == 302
    alias = reg.ParameterAlias.objects.get(code="x99001")
    assert alias.parameter == registry.cod
    unknown.refresh_from_db()
    assert unknown.resolved_to == registry.cod
    assert services.resolve_parameter_code("x99001") == registry.cod
    assert AuditEvent.objects.filter(model="registry.ParameterAlias", object_id=str(alias.pk), actor=registry.office_admin).exists()


def test_unknown_code_mapping_needs_an_office_administrator(client, registry):
    unknown = reg.UnknownCode.objects.get(code="x99001")
    login(client, registry.ks_admin)
    response = client.post(
        url(reg.UnknownCode),
        {"action": "map_to_parameter", "_selected_action": [unknown.pk], "apply": "1", "parameter": registry.cod.pk},
    )
    assert response.status_code in (200, 302, 403)
    assert not reg.ParameterAlias.objects.filter(code="x99001").exists()


def test_import_page_uses_the_import_service(client, registry):
    login(client, registry.ks_admin)
    changelist = client.get(url(reg.Site)).content.decode()
    import_url = reverse("admin:registry_site_import")
    assert import_url in changelist
    assert client.get(import_url).status_code == 200
    template = client.get(reverse("admin:registry_site_import_template"))
    assert template.status_code == 200 and "编码".encode() in template.content
    csv_text = (
        "code,name,kind,owner,lon,lat\n"
        "W320583-ADM,管理后台导入,water_section,kunshan,120.9,31.1\n"
        "W310118-ADM,不是我的,water_section,qingpu,120.9,31.1\n"
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("sites.csv", csv_text.encode("utf-8"), content_type="text/csv")
    response = client.post(import_url, {"file": upload})
    assert response.status_code == 200
    report = response.context["report"]
    assert [(e.row, e.column) for e in report.errors] == [(3, "owner")]
    assert not reg.Site.objects.filter(code__in=["W320583-ADM", "W310118-ADM"]).exists()
    upload = SimpleUploadedFile("sites.csv", csv_text.encode("utf-8"), content_type="text/csv")
    response = client.post(import_url, {"file": upload, "partial": "on"})
    assert reg.Site.objects.filter(code="W320583-ADM").exists()
    assert not reg.Site.objects.filter(code="W310118-ADM").exists()
    page = response.content.decode()
    assert "import-errors" in page and "3" in page


def test_import_page_is_forbidden_without_create_rights(client, registry):
    login(client, registry.ks_viewer)
    assert client.get(reverse("admin:registry_site_import")).status_code == 403
    assert reverse("admin:registry_site_import") not in client.get(url(reg.Site)).content.decode()
