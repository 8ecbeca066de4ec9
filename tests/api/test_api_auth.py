"""Authentication: user tokens (valid, expired, revoked, wrong, disabled account), partner keys
and their scope, the session with CSRF, storage of secrets, the CLI and the admin."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone
from ninja.errors import HttpError

from api_helpers import assert_error
from gongzhi.api import services
from gongzhi.api.auth import UserSession
from gongzhi.api.models import ApiToken, IdempotencyRecord, PartnerKey
from gongzhi.cli import main


def test_valid_token_acts_as_its_user(world, api):
    r = api("qp_monitor").get("/api/v1/sites")
    assert r.status_code == 200
    assert {s["code"] for s in r.json()["items"]} == {"A1", "W1", "W3"}  # Qingpu's own sites
    r = api("ks_analyst").get("/api/v1/sites")
    assert {s["code"] for s in r.json()["items"]} == {"W2"}


def test_no_credentials_is_401_with_challenge(world, api):
    r = api(None).get("/api/v1/sites")
    assert_error(r, 401, "unauthenticated")
    assert r["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer gzt_thisisnotatoken",
        "Bearer gzk_thisisnotakey",
        "Bearer something-else",
        "Bearer ",
        "Bearer " + "gzt_" + "x" * 500,
    ],
)
def test_wrong_tokens_are_401_invalid_token(world, api, header):
    r = Client().get("/api/v1/sites", headers={"Authorization": header})
    err = assert_error(r, 401)
    assert err["code"] in ("invalid_token", "unauthenticated")
    if header.strip() != "Bearer":
        assert err["code"] == "invalid_token"


def test_other_schemes_are_not_accepted(world, api):
    r = Client().get("/api/v1/sites", headers={"Authorization": "Basic cXBfbW9uaXRvcjp4LTEyMzQ1Njc="})
    assert_error(r, 401, "unauthenticated")


def test_expired_token(world, api):
    issued = services.create_token(user=world["users"]["qp_monitor"], expires_in_days=1)
    assert api(token=issued.secret).get("/api/v1/sites").status_code == 200
    ApiToken.objects.filter(pk=issued.obj.pk).update(expires=timezone.now() - dt.timedelta(seconds=1))
    assert_error(api(token=issued.secret).get("/api/v1/sites"), 401, "token_expired")


def test_revoked_token(world, api):
    issued = services.create_token(user=world["users"]["qp_monitor"])
    assert api(token=issued.secret).get("/api/v1/parameters").status_code == 200
    services.revoke(obj=issued.obj)
    assert_error(api(token=issued.secret).get("/api/v1/parameters"), 401, "token_revoked")
    # the other tokens of the same user still work
    assert api("qp_monitor").get("/api/v1/parameters").status_code == 200


def test_token_of_disabled_account(world, api):
    user = world["users"]["js_analyst"]
    user.is_active = False
    user.save()
    assert_error(api("js_analyst").get("/api/v1/sites"), 401, "account_disabled")


def test_bad_token_is_refused_even_with_a_session(world):
    c = Client()
    c.force_login(world["users"]["qp_monitor"])
    assert c.get("/api/v1/sites").status_code == 200
    r = c.get("/api/v1/sites", headers={"Authorization": "Bearer gzt_wrong"})
    assert_error(r, 401, "invalid_token")


def test_session_auth_for_the_web_pages(world):
    c = Client()
    assert_error(c.get("/api/v1/sites"), 401)
    c.force_login(world["users"]["ks_analyst"])
    r = c.get("/api/v1/sites")
    assert r.status_code == 200
    assert [s["code"] for s in r.json()["items"]] == ["W2"]


def test_session_auth_checks_csrf_on_unsafe_methods(world):
    """The session scheme refuses an unsafe request without the CSRF token and accepts it with one."""
    from django.middleware.csrf import get_token

    user = world["users"]["qp_monitor"]
    auth = UserSession()
    rf = RequestFactory(enforce_csrf_checks=True)
    get = rf.get("/api/v1/sites")
    get.user = user
    get.COOKIES["sessionid"] = "x"
    assert auth(get) == user  # safe method: no token needed
    post = rf.post("/api/v1/anything", data="{}", content_type="application/json")
    post.user = user
    post.COOKIES["sessionid"] = "x"
    with pytest.raises(HttpError) as exc:
        auth(post)
    assert exc.value.status_code == 403
    token_source = rf.get("/")
    token = get_token(token_source)
    ok = rf.post("/api/v1/anything", data="{}", content_type="application/json", headers={"X-CSRFToken": token})
    ok.COOKIES["csrftoken"] = token_source.META["CSRF_COOKIE"]
    ok.COOKIES["sessionid"] = "x"
    ok.user = user
    assert auth(ok) == user


def test_partner_key_may_only_push(world, api):
    key = services.create_partner_key(bureau=world["bureaus"]["qingpu"]).secret
    for path in ("/api/v1/sites", "/api/v1/sites/W1", "/api/v1/parameters", "/api/v1/latest?sites=W1", "/api/v1/joint-zones"):
        assert_error(api(token=key).get(path), 403, "insufficient_scope")


def test_user_token_and_session_may_not_push(world, api):
    body = {"records": []}
    r = api("qp_monitor").post("/api/v1/push/observations", body, headers={"Idempotency-Key": "k1"})
    assert_error(r, 403, "insufficient_scope")
    c = Client()
    c.force_login(world["users"]["qp_monitor"])
    r = c.post("/api/v1/push/observations", data="{}", content_type="application/json", headers={"Idempotency-Key": "k1"})
    assert_error(r, 401, "unauthenticated")
    assert not IdempotencyRecord.objects.exists()


def test_expired_and_revoked_partner_keys(world, api):
    issued = services.create_partner_key(bureau=world["bureaus"]["qingpu"], expires_in_days=30)
    PartnerKey.objects.filter(pk=issued.obj.pk).update(expires=timezone.now() - dt.timedelta(minutes=1))
    r = api(token=issued.secret).post("/api/v1/push/observations", {"records": []}, headers={"Idempotency-Key": "a"})
    assert_error(r, 401, "token_expired")
    issued = services.create_partner_key(bureau=world["bureaus"]["qingpu"])
    services.revoke(obj=issued.obj)
    r = api(token=issued.secret).post("/api/v1/push/observations", {"records": []}, headers={"Idempotency-Key": "a"})
    assert_error(r, 401, "token_revoked")


def test_secrets_are_stored_hashed_and_last_use_recorded(world, api):
    issued = services.create_token(user=world["users"]["qp_monitor"], name="ci")
    row = ApiToken.objects.get(pk=issued.obj.pk)
    assert issued.secret.startswith("gzt_") and len(issued.secret) > 40
    assert row.key_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.secret not in (row.key_hash, row.prefix, row.name)
    assert issued.secret.startswith(row.prefix)
    assert row.last_used is None
    api(token=issued.secret).get("/api/v1/parameters")
    row.refresh_from_db()
    assert row.last_used is not None and timezone.now() - row.last_used < dt.timedelta(minutes=1)
    key = services.create_partner_key(bureau=world["bureaus"]["kunshan"])
    assert key.secret.startswith("gzk_") and key.obj.scope == "push"
    assert PartnerKey.objects.get(pk=key.obj.pk).key_hash == hashlib.sha256(key.secret.encode()).hexdigest()


def test_expiry_must_be_positive(world):
    with pytest.raises(ValueError):
        services.create_token(user=world["users"]["qp_monitor"], expires_in_days=0)


# --- CLI -------------------------------------------------------------------------------------------


def test_cli_token_create_prints_a_working_secret_once(world, api, capsys):
    assert main(["api", "token", "create", "--user", "ks_analyst", "--expires", "30", "--name", "dashboard"]) == 0
    out, err = capsys.readouterr()
    secret = out.strip()
    assert secret.startswith("gzt_") and secret not in err
    token = ApiToken.objects.get(prefix=secret[:12])
    assert token.user.username == "ks_analyst" and token.name == "dashboard"
    assert dt.timedelta(days=29) < token.expires - timezone.now() <= dt.timedelta(days=30)
    assert api(token=secret).get("/api/v1/sites").status_code == 200
    assert main(["api", "token", "list", "--user", "ks_analyst"]) == 0
    listing = capsys.readouterr().out
    assert token.prefix in listing and secret not in listing
    assert main(["api", "token", "revoke", token.prefix]) == 0
    assert_error(api(token=secret).get("/api/v1/sites"), 401, "token_revoked")


def test_cli_key_create_and_errors(world, api, capsys):
    assert main(["api", "key", "create", "--bureau", "qingpu"]) == 0
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("gzk_")
    assert PartnerKey.objects.get(prefix=secret[:12]).bureau.code == "qingpu"
    r = api(token=secret).post("/api/v1/push/observations", {"records": []}, headers={"Idempotency-Key": "cli-1"})
    assert r.status_code == 200
    assert main(["api", "key", "create", "--bureau", "nowhere"]) == 1
    assert main(["api", "token", "create", "--user", "nobody"]) == 1
    assert main(["api", "token", "create", "--user", "ks_analyst", "--expires", "0"]) == 2
    assert main(["api", "key", "revoke", "gzk_nosuch"]) == 1


def test_cli_purge_idempotency(world, capsys):
    bureau = world["bureaus"]["qingpu"]
    old = IdempotencyRecord.objects.create(bureau=bureau, key="old", body_hash="x", status=200, response={})
    IdempotencyRecord.objects.filter(pk=old.pk).update(created=timezone.now() - dt.timedelta(days=8))
    IdempotencyRecord.objects.create(bureau=bureau, key="new", body_hash="x", status=200, response={})
    assert main(["api", "purge-idempotency"]) == 0
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


# --- admin -------------------------------------------------------------------------------------------


def test_admin_creates_a_token_and_shows_the_secret_once(world, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="x-1234567")
    c = Client()
    c.force_login(admin)
    user = world["users"]["js_analyst"]
    r = c.post("/admin/api/apitoken/add/", {"user": user.pk, "name": "from admin", "expires_0": "", "expires_1": ""}, follow=True)
    assert r.status_code == 200
    token = ApiToken.objects.get(user=user, name="from admin")
    shown = [str(m) for m in r.context["messages"]]
    secrets = [s for m in shown for s in re.findall(r"gzt_[A-Za-z0-9_-]+", m)]
    assert len(secrets) == 1 and hashlib.sha256(secrets[0].encode()).hexdigest() == token.key_hash
    # bureau users do not see the API credentials in the admin
    staff = world["users"]["office_admin"]
    staff.is_staff = True
    staff.save()
    c.force_login(staff)
    assert c.get("/admin/api/apitoken/").status_code in (302, 403)
