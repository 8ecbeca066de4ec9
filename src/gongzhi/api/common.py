"""Helpers shared by the routers: times, lookups through the policy, limits, JSON hygiene."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from ninja import Schema

from gongzhi.api.errors import ApiError, ErrorOut
from gongzhi.registry import models as reg
from gongzhi.sharing import policy

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.timezone.utc

T = TypeVar("T")

#: Codes of registry objects are slugs (SlugField): anything else cannot name one.
SLUG = r"^[-a-zA-Z0-9_]+$"
ADCODE = r"^[0-9]{6,12}$"

#: The error answers every authenticated read route may give (for the OpenAPI document).
READ_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}


class Page(Schema, Generic[T]):
    total: int
    limit: int
    offset: int
    items: list[T]


def setting(name: str, default: int) -> int:
    """An integer limit: Django setting ``name``, else the environment variable, else ``default``."""
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return int(value)


def parse_time(text: str) -> dt.datetime:
    """ISO 8601 date-time; with an offset or ``Z`` as given, naive as Beijing time (Asia/Shanghai).

    Raises ``ValueError`` for anything else (dates alone included: a time is required)."""
    if not isinstance(text, str) or not (10 < len(text) <= 40) or "T" not in text.upper() and " " not in text:
        raise ValueError("expected an ISO 8601 date-time such as 2026-05-01T10:00:00+08:00")
    t = dt.datetime.fromisoformat(text.strip())
    if t.tzinfo is None:
        t = t.replace(tzinfo=SHANGHAI)
    return t


def query_time(name: str, text: str | None, default: dt.datetime) -> dt.datetime:
    if text is None or text == "":
        return default
    try:
        return parse_time(text)
    except (ValueError, OverflowError) as exc:
        raise ApiError(400, "bad_time", f"{name}: {exc}", [{"loc": ["query", name], "message": str(exc)}]) from None


def iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(SHANGHAI).isoformat() if t is not None else None


def finite(values: list) -> list:
    """JSON has no NaN or infinity: they become null."""
    return [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]


def visible_site(user, code: str) -> reg.Site:
    """The site with ``code`` if ``user`` may see it, else 404 (whether or not it exists)."""
    site = None
    if re.fullmatch(SLUG, code or "") and len(code) <= 40:
        site = reg.Site.objects.select_related("owner", "jurisdiction", "waterbody").filter(code=code).first()
    if site is None or not policy.can_view(user, site):
        raise ApiError(404, "not_found", "site not found")
    return site


def parameter_by_code(code: str) -> reg.Parameter:
    """A catalog parameter by key, HJ 212 code or alias (no unknown-code bookkeeping: this is a query)."""
    from gongzhi.registry.services import code_index

    code = (code or "").strip()
    pk = code_index.lookup(code) if code and len(code) <= 40 else None
    param = reg.Parameter.objects.filter(pk=pk).first() if pk is not None else None
    if param is None:
        raise ApiError(400, "unknown_parameter", f"unknown parameter {ascii(code[:40])}", [{"loc": ["query", "parameter"]}])
    return param


def bureau_ref(b: reg.Bureau | None) -> dict | None:
    if b is None:
        return None
    return {"code": b.code, "name": b.name, "short_name": b.short_name}
