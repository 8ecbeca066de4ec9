"""Writers of the API's tables: create, check and revoke secrets; purge idempotency records.

Keyword-only functions, the only code that writes :mod:`gongzhi.api.models`
(the admin goes through them too)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from gongzhi.api.models import ApiToken, IdempotencyRecord, KeyScope, PartnerKey

#: Secret prefixes: they tell the two kinds apart at a glance (and in leaked-secret scanners).
USER_PREFIX = "gzt_"
PARTNER_PREFIX = "gzk_"
PREFIX_LEN = 12
#: ``last_used`` is written at most once per this interval (a write per request would be wasteful).
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)  # 256 random bits


@dataclass(frozen=True)
class Issued:
    """A newly created credential and its secret (shown once, never stored)."""

    obj: ApiToken | PartnerKey
    secret: str


def create_token(*, user, name: str = "", expires_in_days: int | None = None) -> Issued:
    """A new API token of ``user``. ``expires_in_days=None``: no expiry."""
    if expires_in_days is not None and expires_in_days <= 0:
        raise ValueError("expires_in_days must be positive")
    secret = _new_secret(USER_PREFIX)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user, name=name[:100], prefix=secret[:PREFIX_LEN], key_hash=digest(secret), created=now,
        expires=now + dt.timedelta(days=expires_in_days) if expires_in_days else None,
    )
    return Issued(token, secret)


def create_partner_key(*, bureau, name: str = "", created_by=None, expires_in_days: int | None = None) -> Issued:
    """A new push key of ``bureau``."""
    if expires_in_days is not None and expires_in_days <= 0:
        raise ValueError("expires_in_days must be positive")
    secret = _new_secret(PARTNER_PREFIX)
    now = timezone.now()
    key = PartnerKey.objects.create(
        bureau=bureau, name=name[:100], prefix=secret[:PREFIX_LEN], key_hash=digest(secret), created=now,
        scope=KeyScope.PUSH, created_by=created_by,
        expires=now + dt.timedelta(days=expires_in_days) if expires_in_days else None,
    )
    return Issued(key, secret)


def revoke(*, obj: ApiToken | PartnerKey) -> None:
    """Revoke a token or key (idempotent: the first revocation time is kept)."""
    if obj.revoked is None:
        obj.revoked = timezone.now()
        type(obj).objects.filter(pk=obj.pk, revoked__isnull=True).update(revoked=obj.revoked)


class SecretRejected(Exception):
    """The presented secret is unknown, expired, revoked or its account disabled: ``code`` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_secret(secret: str) -> ApiToken | PartnerKey:
    """The credential a presented secret belongs to, or :class:`SecretRejected`."""
    if secret.startswith(USER_PREFIX):
        model = ApiToken
        qs = ApiToken.objects.select_related("user", "user__bureau")
    elif secret.startswith(PARTNER_PREFIX):
        model = PartnerKey
        qs = PartnerKey.objects.select_related("bureau")
    else:
        raise SecretRejected("invalid_token", "unknown token")
    if len(secret) > 200:
        raise SecretRejected("invalid_token", "unknown token")
    obj = qs.filter(key_hash=digest(secret)).first()
    if obj is None:
        raise SecretRejected("invalid_token", "unknown token")
    now = timezone.now()
    state = obj.state(now)
    if state == "revoked":
        raise SecretRejected("token_revoked", "this token has been revoked")
    if state == "expired":
        raise SecretRejected("token_expired", "this token has expired")
    if model is ApiToken and not obj.user.is_active:
        raise SecretRejected("account_disabled", "the account of this token is disabled")
    if obj.last_used is None or now - obj.last_used >= LAST_USED_RESOLUTION:
        obj.last_used = now
        model.objects.filter(pk=obj.pk).update(last_used=now)
    return obj


# --- idempotency records ---------------------------------------------------------------------------


def idempotency_retention() -> dt.timedelta:
    days = getattr(settings, "GONGZHI_API_IDEMPOTENCY_DAYS", None)
    if days is None:
        days = int(os.environ.get("GONGZHI_API_IDEMPOTENCY_DAYS", "7"))
    return dt.timedelta(days=days)


@transaction.atomic
def purge_idempotency(*, older_than: dt.timedelta | None = None, now: dt.datetime | None = None) -> int:
    """Delete idempotency records older than the retention (default ``GONGZHI_API_IDEMPOTENCY_DAYS``)."""
    cutoff = (now or timezone.now()) - (older_than if older_than is not None else idempotency_retention())
    deleted, _ = IdempotencyRecord.objects.filter(created__lt=cutoff).delete()
    return deleted


def active_q(now: dt.datetime | None = None) -> Q:
    now = now or timezone.now()
    return Q(revoked__isnull=True) & (Q(expires__isnull=True) | Q(expires__gt=now))
