"""The audit trail: every change recorded with actor, path and changed fields;
visible in the admin through the policy, and read-only for everyone."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.urls import reverse

from gongzhi.accounts.models import Role, User
from gongzhi.audit.context import acting_as
from gongzhi.audit.models import AuditEvent
from gongzhi.registry import models as reg
from gongzhi.registry import services
from gongzhi.sharing import policy

PW = "pw-for-tests-1"


@pytest.fixture
def world(db):
    ns = SimpleNamespace()
    ns.kunshan = reg.Bureau.objects.create(code="kunshan", name="昆山局", short_name="昆山")
    ns.qingpu = reg.Bureau.objects.create(code="qingpu", name="青浦局", short_name="青浦")
    ns.root = User.objects.create_superuser(username="root", password=PW)
    ns.ks_admin = User.objects.create_user(username="ks_admin", password=PW, bureau=ns.kunshan, role=Role.ADMINISTRATOR, is_staff=True)
    ns.qp_admin = User.objects.create_user(username="qp_admin", password=PW, bureau=ns.qingpu, role=Role.ADMINISTRATOR, is_staff=True)
    ns.cod = reg.Parameter.objects.create(key="cod", name_zh="化学需氧量", code_2017="w01018", domain="water")
    ns.nh3n = reg.Parameter.objects.create(key="nh3_n", name_zh="氨氮", code_2017="w21003", domain="water")
    return ns


def new_site(bureau, code, **kw):
    return reg.Site(code=code, name=kw.pop("name", "断面"), kind="water_section", owner=bureau, lon=120.9, lat=31.1, **kw)


def events(obj):
    return list(AuditEvent.objects.filter(model=f"{obj._meta.app_label}.{type(obj).__name__}", object_id=str(obj.pk)).order_by("id"))


def test_create_update_delete_are_recorded_with_actor_and_fields(world):
    site = services.save_object(new_site(world.kunshan, "W1", name="甲"), actor=world.ks_admin, via="service", reason="新建")
    site.name, site.lon = "乙", 121.0
    services.save_object(site, actor=world.ks_admin, via="cli")
    services.save_object(site, actor=world.ks_admin)  # nothing changed: no event
    pk = site.pk
    services.delete_object(site, actor=world.root, via="admin")
    trail = list(AuditEvent.objects.filter(model="registry.Site", object_id=str(pk)).order_by("id"))
    assert [e.action for e in trail] == ["create", "update", "delete"]
    create, update, delete = trail
    assert create.actor == world.ks_admin and create.actor_name == "ks_admin" and create.via == "service"
    assert create.reason == "新建" and create.changes["name"] == [None, "甲"] and create.object_repr == "甲"
    assert update.changes == {"name": ["甲", "乙"], "lon": [120.9, 121.0]} and update.via == "cli"
    assert delete.actor == world.root and delete.via == "admin" and delete.changes["name"] == ["乙", None]


def test_system_changes_are_named_by_their_path(world):
    with acting_as(None, via="demo"):
        site = new_site(world.kunshan, "W2")
        site.save()
    (event,) = events(site)
    assert event.actor is None and event.actor_name == "demo" and event.via == "demo"


def test_secrets_and_geometry_stay_out_of_the_trail(world):
    site = services.save_object(new_site(world.kunshan, "W3"))
    dev = services.save_object(reg.Device(mn="D1", password="123456", system_code="21", site=site))
    assert events(dev)[0].changes["password"] == [None, "***"]
    dev.password = "654321"
    services.save_object(dev)
    last = events(dev)[-1]
    assert last.action == "update" and last.changes == {"password": ["***", "*** (changed)"]}  # that, not what
    jur = reg.Jurisdiction.objects.create(
        adcode="320583", name="昆山市", level="county",
        boundary={"type": "Polygon", "coordinates": [[[120.8, 31.0], [121.0, 31.0], [121.0, 31.2], [120.8, 31.0]]]},
    )
    assert events(jur)[0].changes["boundary"] == [None, "<geometry>"]
    user = User.objects.create_user(username="u1", password="secret-pw-123", bureau=world.kunshan)
    assert "secret-pw-123" not in str(events(user)[0].changes) and events(user)[0].changes["password"] == [None, "***"]
    user.set_password("another-pw-456")
    user.save()
    assert events(user)[-1].changes == {"password": ["***", "*** (changed)"]}
    for e in AuditEvent.objects.all():
        assert "123456" not in str(e.changes) and "654321" not in str(e.changes)


def test_many_to_many_changes_are_recorded(world):
    site = services.save_object(new_site(world.kunshan, "W4"))
    dev = services.save_object(reg.Device(mn="D2", password="1", system_code="21", site=site), m2m={"parameters": [world.cod]})
    with acting_as(world.ks_admin, via="admin"):
        dev.parameters.add(world.nh3n)
        dev.parameters.remove(world.cod)
    changes = [e.changes for e in events(dev) if e.action == "update"]
    assert {"parameters": {"added": [world.cod.pk]}} in changes
    assert {"parameters": {"added": [world.nh3n.pk]}} in changes
    assert {"parameters": {"removed": [world.cod.pk]}} in changes


def test_nobody_may_change_an_audit_event(world):
    services.save_object(new_site(world.kunshan, "W5"))
    event = AuditEvent.objects.first()
    for user in (world.root, world.ks_admin):
        assert not policy.can_change(user, event)
        assert not policy.can_create(user, AuditEvent)
    assert policy.can_view(world.root, event) and policy.can_view(world.ks_admin, event)
    assert not policy.can_view(world.qp_admin, event)


def test_bureaus_see_the_events_of_what_they_own_and_of_their_own_people(world):
    ks_site = services.save_object(new_site(world.kunshan, "W-KS"), actor=world.root)
    qp_site = services.save_object(new_site(world.qingpu, "W-QP"), actor=world.root)
    services.save_object(reg.Waterbody(code="taipu", name="太浦河", kind="river"), actor=world.root)
    with acting_as(world.ks_admin, via="admin"):
        world.ks_admin.phone = "123"
        world.ks_admin.save()
    seen = policy.visible(world.ks_admin, AuditEvent.objects.all())
    labels = {(e.model, e.object_id) for e in seen}
    assert ("registry.Site", str(ks_site.pk)) in labels
    assert ("registry.Site", str(qp_site.pk)) not in labels
    assert any(m == "registry.Waterbody" for m, _ in labels)  # region-wide
    assert ("accounts.User", str(world.ks_admin.pk)) in labels
    assert ("accounts.User", str(world.qp_admin.pk)) not in labels
    assert policy.visible(world.root, AuditEvent.objects.all()).count() == AuditEvent.objects.count()


def test_admin_requests_are_audited_as_the_user_via_admin(client, world):
    client.force_login(world.ks_admin)
    data = {"code": "W-ADM", "name": "后台建", "kind": "water_section", "owner": world.kunshan.pk, "lon": "120.9", "lat": "31.1", "assessment_level": "none"}
    assert client.post(reverse("admin:registry_site_add"), data).status_code == 302
    site = reg.Site.objects.get(code="W-ADM")
    client.post(reverse("admin:registry_site_delete", args=[site.pk]), {"post": "yes"})
    trail = list(AuditEvent.objects.filter(model="registry.Site", object_id=str(site.pk)).order_by("id"))
    assert [(e.action, e.actor, e.via) for e in trail] == [("create", world.ks_admin, "admin"), ("delete", world.ks_admin, "admin")]


# --- the admin view of the trail ------------------------------------------------------------------


def test_audit_admin_is_read_only_even_for_superusers(client, world):
    site = services.save_object(new_site(world.kunshan, "W6", name="甲"), actor=world.ks_admin, via="import")
    site.name = "乙"
    services.save_object(site, actor=world.ks_admin, via="import")
    event = events(site)[-1]
    client.force_login(world.root)
    changelist = client.get(reverse("admin:audit_auditevent_changelist"))
    assert changelist.status_code == 200
    assert "delete_selected" not in changelist.content.decode()
    change_url = reverse("admin:audit_auditevent_change", args=[event.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html
    assert "<td>甲</td><td>乙</td>" in html and "名称" in html  # the changes rendered as a table
    assert client.post(change_url, {"reason": "改"}).status_code == 403
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, reason="").exists()


def test_audit_admin_filters_and_search(client, world):
    site = services.save_object(new_site(world.kunshan, "W7", name="七号断面"), actor=world.ks_admin, via="import")
    services.save_object(reg.Waterbody(code="wusong", name="吴淞江", kind="river"), actor=world.root, via="admin")
    client.force_login(world.root)
    base = reverse("admin:audit_auditevent_changelist")

    def listed(query):
        response = client.get(base + query)
        assert response.status_code == 200
        return list(response.context["cl"].result_list)

    assert {e.model for e in listed("?model=registry.Waterbody")} == {"registry.Waterbody"}
    assert {e.via for e in listed("?via=import")} == {"import"}
    assert {e.action for e in listed("?action=create")} == {"create"}
    assert {e.actor_id for e in listed(f"?actor__id__exact={world.root.pk}")} == {world.root.pk}
    assert [e.object_repr for e in listed("?q=七号")] == ["七号断面"]
    assert [e.object_id for e in listed(f"?model=registry.Site&object_id={site.pk}")] == [str(site.pk)]


def test_bureau_admin_sees_only_their_events_in_the_admin(client, world):
    ks = services.save_object(new_site(world.kunshan, "W-KS2", name="昆山的"), actor=world.ks_admin)
    qp = services.save_object(new_site(world.qingpu, "W-QP2", name="青浦的"), actor=world.qp_admin)
    client.force_login(world.ks_admin)
    response = client.get(reverse("admin:audit_auditevent_changelist"))
    shown = {e.object_repr for e in response.context["cl"].result_list}
    assert "昆山的" in shown and "青浦的" not in shown
    qp_event = events(qp)[0]
    assert client.get(reverse("admin:audit_auditevent_change", args=[qp_event.pk])).status_code == 404
    assert client.get(reverse("admin:audit_auditevent_change", args=[events(ks)[0].pk])).status_code == 200
