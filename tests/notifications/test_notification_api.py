"""/api/v1/notifications: own notifications only, unread count, mark read (token and session)."""

from __future__ import annotations

import datetime as dt
import json

from gongzhi.api import services as api_services
from gongzhi.notifications import services

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)


def _bearer(user):
    return {"HTTP_AUTHORIZATION": f"Bearer {api_services.create_token(user=user).secret}"}


def _alarm(users, ref, **kw):
    return services.notify(recipients=users, kind="warning.downstream", subject="上游来水预警", body="预计 14:20 到达",
                           subject_en="Upstream warning", link="/alerts/42/", payload={"alarm": 42}, ref=ref, now=NOW, **kw)


def test_list_count_and_mark_read_with_a_token(client, people):
    qp, ks = people["qp_duty"], people["ks_duty"]
    first = _alarm([qp, ks], "w:1", urgent=True)
    _alarm([qp], "w:2")
    auth = _bearer(qp)
    r = client.get("/api/v1/notifications", **auth)
    assert r.status_code == 200
    data = r.json()
    assert data["total"] == 2 and data["limit"] == 50 and data["offset"] == 0
    item = data["items"][1]
    assert (item["kind"], item["kind_name"], item["subject"], item["subject_en"], item["link"], item["payload"], item["ref"], item["urgent"]) == (
        "warning.downstream", "下游预警", "上游来水预警", "Upstream warning", "/alerts/42/", {"alarm": 42}, "w:1", True)
    assert item["created"] == "2026-06-01T10:00:00+08:00" and item["read_at"] is None
    assert client.get("/api/v1/notifications/unread-count", **auth).json() == {"unread": 2}
    theirs = next(n for n in first if n.recipient_id == ks.pk)
    mine = next(n for n in first if n.recipient_id == qp.pk)
    r = client.post("/api/v1/notifications/read", json.dumps({"ids": [mine.pk, theirs.pk]}), content_type="application/json", **auth)
    assert r.status_code == 200 and r.json() == {"marked": 1, "unread": 1}
    assert services.unread_count(user=ks) == 1
    unread = client.get("/api/v1/notifications", {"unread": "true", "limit": 1}, **auth).json()
    assert unread["total"] == 1 and [i["ref"] for i in unread["items"]] == ["w:2"]
    r = client.post("/api/v1/notifications/read", json.dumps({"all": True}), content_type="application/json", **auth)
    assert r.json() == {"marked": 1, "unread": 0}


def test_bad_requests_and_no_credentials(client, people):
    auth = _bearer(people["qp_duty"])
    assert client.get("/api/v1/notifications").status_code == 401
    assert client.get("/api/v1/notifications", {"limit": 0}, **auth).status_code in (400, 422)
    assert client.get("/api/v1/notifications", {"limit": 501}, **auth).status_code in (400, 422)
    bad = client.post("/api/v1/notifications/read", json.dumps({"ids": ["x"]}), content_type="application/json", **auth)
    assert bad.status_code in (400, 422) and "error" in bad.json()
    huge = client.post("/api/v1/notifications/read", json.dumps({"ids": [2**70]}), content_type="application/json", **auth)
    assert huge.status_code in (400, 422)


def test_session_post_needs_csrf(people):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(people["qp_duty"])
    _alarm([people["qp_duty"]], "w:1")
    assert c.get("/api/v1/notifications/unread-count").json() == {"unread": 1}
    r = c.post("/api/v1/notifications/read", json.dumps({"all": True}), content_type="application/json")
    assert r.status_code in (401, 403)
    assert services.unread_count(user=people["qp_duty"]) == 1
