"""Partner HTTP push (数据推送): ``POST /api/v1/push/observations`` with a partner API key.

A partner system (another platform of a bureau, a vendor's cloud) sends batches of
values of the sites its bureau owns. Each record gets its own outcome; good records next
to bad ones are stored. The whole batch is written by
:func:`gongzhi.observations.services.write_observations` in one transaction, with
source :attr:`~gongzhi.observations.models.Source.PARTNER`.

Arrival checks reuse the gateway's quality checks (:mod:`gongzhi.ingest.qc`): units
(only exact, dimension-preserving conversions), physical range, negative values, the
HJ 212 data flag and the time. Times are treated like the gateway treats them: up to
:data:`FUTURE_TOLERANCE` ahead is clock skew (stored as is); further ahead but within
:data:`FUTURE_LIMIT` is stored flagged ``QC_FUTURE`` (as the gateway does); beyond that
a record is rejected ``future_time`` (a wrong date, not a clock off by minutes: storing
it would pin the site's latest value in the future). See docs/api.md for the format.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from django.db import IntegrityError, transaction
from django.utils import timezone
from ninja import Field, Router, Schema

from gongzhi.api.auth import PUSH_AUTH, Partner
from gongzhi.api.common import SHANGHAI, setting
from gongzhi.api.errors import ApiError, ErrorOut
from gongzhi.api.models import IdempotencyRecord
from gongzhi.api.services import idempotency_retention
from gongzhi.ingest import qc
from gongzhi.observations import services as obs
from gongzhi.observations.models import QC_FUTURE, QC_UNIT_CONVERTED, Series, SeriesKind, Source, qc_names
from gongzhi.registry import models as reg
from gongzhi.registry.services import code_index, record_unknown_code
from gongzhi.sharing import policy

router = Router(tags=["push"])

#: Most records per batch (``GONGZHI_API_PUSH_MAX_RECORDS``); more → 413.
DEFAULT_MAX_RECORDS = 10_000
#: Largest request body in bytes (``GONGZHI_API_PUSH_MAX_BYTES``); more → 413.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
#: As the gateway: values up to this far in the future are clock skew.
FUTURE_TOLERANCE = dt.timedelta(minutes=10)
#: Further than this in the future: rejected ``future_time``.
FUTURE_LIMIT = dt.timedelta(days=1)
EARLIEST = dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)
KINDS = {k.value for k in SeriesKind}
DOMAIN_BY_SITE_KIND = {reg.SiteKind.WATER_SECTION: "water", reg.SiteKind.AIR_STATION: "air"}
FLAG_RE = re.compile(r"^[A-Za-z]{1,2}$")
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,128}$")
RECORD_FIELDS = {"site", "parameter", "time", "value", "flag", "kind", "unit"}

REASONS = (
    "bad_record", "unknown_site", "not_owner", "unknown_parameter", "bad_time", "future_time", "unit_mismatch", "bad_value",
)


# --- the OpenAPI description of the body (parsed by hand: bad records are per-record outcomes) --------

RECORD_SCHEMA = {
    "type": "object",
    "required": ["site", "parameter", "time", "value", "kind"],
    "properties": {
        "site": {"type": "string", "description": "site code (your bureau's sites only)"},
        "parameter": {"type": "string", "description": "parameter key, HJ 212 code or alias"},
        "time": {"type": "string", "description": "ISO 8601 with offset; naive = Beijing time. Period start for min/hour/day."},
        "value": {"type": ["number", "null"]},
        "flag": {"type": "string", "default": "N", "description": "HJ 212 data flag (N = normal)"},
        "kind": {"type": "string", "enum": sorted(KINDS)},
        "unit": {"type": "string", "description": "unit of value; default: the series' unit"},
    },
}
BODY_SCHEMA = {
    "type": "object",
    "required": ["records"],
    "properties": {"records": {"type": "array", "items": RECORD_SCHEMA, "maxItems": DEFAULT_MAX_RECORDS}},
}


class RecordResult(Schema):
    index: int
    status: str
    reason: Optional[str] = None
    message: Optional[str] = None
    qc: Optional[list[str]] = Field(None, description="QC flags set on arrival (accepted and duplicate records)")


class PushOut(Schema):
    accepted: int
    duplicates: int
    rejected: int
    results: list[RecordResult]


# --- per-record checks ---------------------------------------------------------------------------------


class Rejected(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class _Plan:
    index: int
    site: reg.Site
    parameter: reg.Parameter
    kind: str
    time: dt.datetime
    value: float | None
    flag: str
    unit: str | None
    qc: int = 0
    notes: list[str] = field(default_factory=list)


def _str_field(rec: dict, name: str, *, required: bool = True, max_len: int = 64) -> str | None:
    v = rec.get(name)
    if v is None:
        if required:
            raise Rejected("bad_record", f"{name} is required")
        return None
    if not isinstance(v, str) or not v.strip() or len(v) > max_len or not v.isprintable():
        raise Rejected("bad_record", f"{name} must be a non-empty printable string of at most {max_len} characters")
    return v.strip()


def _parse_time(value: Any, kind: str, now: dt.datetime) -> tuple[dt.datetime, int]:
    if not isinstance(value, str) or not (10 <= len(value) <= 40):
        raise Rejected("bad_time", "time must be an ISO 8601 date-time string")
    try:
        t = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise Rejected("bad_time", f"cannot read {ascii(value[:40])} as an ISO 8601 date-time") from None
    if len(value.strip()) == 10:  # a date alone
        raise Rejected("bad_time", "time needs a time of day, not only a date")
    if t.tzinfo is None:
        t = t.replace(tzinfo=SHANGHAI)
    try:
        t_utc = t.astimezone(dt.timezone.utc)
    except (OverflowError, ValueError):
        raise Rejected("bad_time", "time out of range") from None
    if t_utc < EARLIEST:
        raise Rejected("bad_time", "time before 1980-01-01")
    local = t.astimezone(SHANGHAI)
    aligned = {
        SeriesKind.MINUTE: local.second == 0 and local.microsecond == 0,
        SeriesKind.HOUR: (local.minute, local.second, local.microsecond) == (0, 0, 0),
        SeriesKind.DAY: (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0),
    }.get(kind, True)
    if not aligned:
        raise Rejected("bad_time", f"a {kind} value is stamped with the start of its period (Beijing time)")
    ahead = t_utc - now
    if ahead > FUTURE_LIMIT:
        raise Rejected("future_time", f"time is {ahead} in the future (more than {FUTURE_LIMIT})")
    return t_utc, qc.time_bits(t_utc, now, FUTURE_TOLERANCE)


def _parse_value(rec: dict) -> float | None:
    if "value" not in rec:
        raise Rejected("bad_record", "value is required (null for a missing value)")
    v = rec["value"]
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise Rejected("bad_value", "value must be a number or null")
    try:
        f = float(v)
    except OverflowError:
        raise Rejected("bad_value", "value out of range") from None
    if not math.isfinite(f):
        raise Rejected("bad_value", "value must be finite")
    return f


def _parse_flag(rec: dict) -> str:
    flag = rec.get("flag", "N")
    if flag is None:
        return "N"
    if not isinstance(flag, str) or not FLAG_RE.match(flag):
        raise Rejected("bad_value", "flag must be an HJ 212 data flag (one or two letters, N = normal)")
    return flag


class _Batch:
    """Checks of one batch, with the lookups shared by its records."""

    def __init__(self, partner: Partner, records: list, now: dt.datetime) -> None:
        self.partner = partner
        self.bureau = partner.bureau
        self.principal = partner.as_policy_user()
        self.now = now
        codes = {r.get("site") for r in records if isinstance(r, dict) and isinstance(r.get("site"), str)}
        codes = {c.strip() for c in codes if 0 < len(c.strip()) <= 64 and c.isprintable()}
        self.sites = {s.code: s for s in reg.Site.objects.select_related("owner").filter(code__in=codes)}
        self.site_verdict: dict[str, tuple[str, str] | None] = {}
        self.param_pk: dict[tuple[str, str], int | None] = {}
        self.params: dict[int, reg.Parameter] = {}
        self.unknown: dict[str, int] = {}

    def site(self, code: str) -> reg.Site:
        if code not in self.site_verdict:
            site = self.sites.get(code)
            if site is None or not policy.can_view(self.principal, site):
                # a site the bureau may not see is reported as unknown: no existence leaks
                self.site_verdict[code] = ("unknown_site", f"unknown site {ascii(code)}")
            elif not policy.can_push_data(self.bureau, site):
                self.site_verdict[code] = ("not_owner", f"site {ascii(code)} is not owned by {self.bureau.code}: push only your own sites")
            else:
                self.site_verdict[code] = None
        verdict = self.site_verdict[code]
        if verdict is not None:
            raise Rejected(*verdict)
        return self.sites[code]

    def parameter(self, code: str, site: reg.Site) -> reg.Parameter:
        domain = DOMAIN_BY_SITE_KIND.get(site.kind, "")
        key = (code, domain)
        if key not in self.param_pk:
            self.param_pk[key] = code_index.lookup(code, domain)
        pk = self.param_pk[key]
        if pk is None:
            self.unknown[code] = self.unknown.get(code, 0) + 1
            raise Rejected("unknown_parameter", f"unknown parameter code {ascii(code)} (recorded for the administrators)")
        if pk not in self.params:
            self.params[pk] = reg.Parameter.objects.get(pk=pk)
        return self.params[pk]

    def check(self, index: int, rec: Any) -> _Plan:
        if not isinstance(rec, dict):
            raise Rejected("bad_record", "a record is a JSON object")
        extra = set(rec) - RECORD_FIELDS
        if extra:
            raise Rejected("bad_record", f"unknown field(s): {', '.join(sorted(map(ascii, extra)))[:200]}")
        site_code = _str_field(rec, "site")
        param_code = _str_field(rec, "parameter", max_len=32)
        kind = _str_field(rec, "kind", max_len=8)
        if kind not in KINDS:
            raise Rejected("bad_record", f"kind must be one of {', '.join(sorted(KINDS))}")
        unit = _str_field(rec, "unit", required=False, max_len=32)
        value = _parse_value(rec)
        flag = _parse_flag(rec)
        if "time" not in rec:
            raise Rejected("bad_record", "time is required")
        site = self.site(site_code)
        parameter = self.parameter(param_code, site)
        t, bits = _parse_time(rec["time"], kind, self.now)
        return _Plan(index, site, parameter, kind, t, value, flag, unit, qc=bits | qc.flag_bits(flag))

    def finish(self) -> None:
        for code, n in self.unknown.items():
            record_unknown_code(code=code, source=f"push:{self.bureau.code}", count=n)


def _default_unit(site: reg.Site, parameter: reg.Parameter) -> str:
    if site.kind == reg.SiteKind.AIR_STATION and parameter.ambient_unit:
        return parameter.ambient_unit
    return parameter.unit


def _apply_units(plans: list[_Plan], results: list[dict]) -> list[_Plan]:
    """Convert the safe units, reject the others; create the series of the records kept."""
    existing = {}
    if plans:
        qs = Series.objects.filter(
            site_id__in={p.site.pk for p in plans}, parameter_id__in={p.parameter.pk for p in plans}
        ).values_list("site_id", "parameter_id", "kind", "unit")
        existing = {(s, p, k): u for s, p, k, u in qs}
    kept = []
    for p in plans:
        target = existing.get((p.site.pk, p.parameter.pk, p.kind))
        if target is None:
            target = _default_unit(p.site, p.parameter)
        if p.unit is not None and target:
            factor = qc.unit_factor(p.unit, target)
            if factor is None:
                results[p.index] = _rejected(p.index, "unit_mismatch", f"cannot convert {ascii(p.unit)} to the series unit {target}")
                continue
            if factor != 1.0:
                p.qc |= QC_UNIT_CONVERTED
                p.value = None if p.value is None else p.value * factor
        p.unit = target or (p.unit or "")
        p.qc |= qc.value_bits(p.parameter.key, p.unit, p.value)
        kept.append(p)
    return kept


def _rejected(index: int, reason: str, message: str) -> dict:
    return {"index": index, "status": "rejected", "reason": reason, "message": message, "qc": None}


def process_batch(partner: Partner, records: list, *, now: dt.datetime | None = None) -> dict:
    """Check and store one batch (in the caller's transaction); the per-record results."""
    now = now or timezone.now()
    batch = _Batch(partner, records, now)
    results: list[dict | None] = [None] * len(records)
    plans: list[_Plan] = []
    for i, rec in enumerate(records):
        try:
            plans.append(batch.check(i, rec))
        except Rejected as exc:
            results[i] = _rejected(i, exc.reason, exc.message)
    plans = _apply_units(plans, results)
    rows = []
    for p in plans:
        sid = obs.series_resolver.get(site=p.site, parameter=p.parameter, kind=p.kind, unit=p.unit)
        rows.append(obs.ObservationRow(sid, p.time, p.value, p.flag, p.qc))
    written = obs.write_observations(rows, source=Source.PARTNER, received=now) if rows else obs.WriteResult()
    duplicate = set(written.duplicate_indexes)
    for n, p in enumerate(plans):
        status = "duplicate" if n in duplicate else "accepted"
        results[p.index] = {"index": p.index, "status": status, "reason": None, "message": None, "qc": qc_names(p.qc)}
    batch.finish()
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for r in results:
        counts[r["status"]] += 1
    return {"accepted": counts["accepted"], "duplicates": counts["duplicate"], "rejected": counts["rejected"], "results": results}


# --- the route -------------------------------------------------------------------------------------------


def _read_body(request) -> bytes:
    max_bytes = setting("GONGZHI_API_PUSH_MAX_BYTES", DEFAULT_MAX_BYTES)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiError(400, "bad_request", "bad Content-Length") from None
    if declared > max_bytes:
        raise ApiError(413, "payload_too_large", f"the body is larger than {max_bytes} bytes", [{"max_bytes": max_bytes}])
    body = request.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise ApiError(413, "payload_too_large", f"the body is larger than {max_bytes} bytes", [{"max_bytes": max_bytes}])
    return body


def _parse_body(body: bytes) -> list:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not JSON (UTF-8)") from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise ApiError(400, "invalid_request", 'the body is {"records": [...]}', [{"loc": ["body", "records"]}])
    extra = set(data) - {"records"}
    if extra:
        raise ApiError(400, "invalid_request", f"unknown field(s): {', '.join(sorted(map(ascii, extra)))[:200]}", [{"loc": ["body"]}])
    records = data["records"]
    limit = setting("GONGZHI_API_PUSH_MAX_RECORDS", DEFAULT_MAX_RECORDS)
    if len(records) > limit:
        raise ApiError(
            413, "too_many_records", f"{len(records)} records: at most {limit} per batch; split the batch",
            [{"max_records": limit, "records": len(records)}],
        )
    return records


def _canonical_hash(records: list) -> str:
    text = json.dumps({"records": records}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _replay(record: IdempotencyRecord, body_hash: str):
    if record.body_hash != body_hash:
        raise ApiError(
            422, "idempotency_conflict",
            "this Idempotency-Key was used with a different body; use a new key for a new batch",
        )
    from django.http import JsonResponse

    response = JsonResponse(record.response, status=record.status, json_dumps_params={"ensure_ascii": False})
    response["Idempotent-Replayed"] = "true"
    return response


def _stored(bureau, key: str) -> IdempotencyRecord | None:
    record = IdempotencyRecord.objects.filter(bureau=bureau, key=key).first()
    if record is not None and record.created < timezone.now() - idempotency_retention():
        record.delete()  # past retention: the key may be used again
        return None
    return record


@router.post(
    "/push/observations",
    auth=PUSH_AUTH,
    response={200: PushOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 413: ErrorOut, 422: ErrorOut},
    summary="Push observations (partner systems)",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": BODY_SCHEMA}}},
        "parameters": [{
            "in": "header", "name": "Idempotency-Key", "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[!-~]+$"},
            "description": "unique per batch; a resend with the same key and body returns the stored response",
        }],
    },
)
def push_observations(request):
    """Store a batch of values of your bureau's sites, with a per-record outcome
    (``accepted``, ``duplicate`` or ``rejected`` with a reason). See docs/api.md."""
    partner: Partner = request.auth
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise ApiError(400, "idempotency_key_required", "the Idempotency-Key header is required", [{"loc": ["header", "Idempotency-Key"]}])
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise ApiError(400, "invalid_request", "Idempotency-Key: 1–128 printable ASCII characters", [{"loc": ["header", "Idempotency-Key"]}])
    records = _parse_body(_read_body(request))
    body_hash = _canonical_hash(records)
    record = _stored(partner.bureau, key)
    if record is not None:
        return _replay(record, body_hash)
    try:
        with transaction.atomic():
            result = process_batch(partner, records)
            IdempotencyRecord.objects.create(bureau=partner.bureau, key=key, body_hash=body_hash, status=200, response=result)
    except IntegrityError:
        # the same key committed by a concurrent request meanwhile: answer as a resend
        record = _stored(partner.bureau, key)
        if record is None:
            raise
        return _replay(record, body_hash)
    return result
