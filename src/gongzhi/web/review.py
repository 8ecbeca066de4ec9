"""Reads behind the data review page (数据审核): which sites and outlets a user may review, their
flagged values in a period, and each value's revision history.

Who may review what is decided by :func:`gongzhi.sharing.policy.can_review_data` (the owner
bureau's monitoring staff and administrators, and superusers); this module never looks at
roles or owners itself. The writes (corrections, invalidations, approvals) are
:func:`gongzhi.observations.services.revise` and :func:`gongzhi.observations.queries.approve_period`.

A value is *flagged* (listed for review) when any of these holds:

* a QC bit other than the informational ones (unit converted, back-filled) is set
  (:data:`REVIEW_QC`);
* the device's HJ 212 data flag is not ``N`` (an empty flag counts as ``N``);
* it has been revised (a correction or invalidation exists), so reviewed values stay
  findable with their history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Exists, F, OuterRef, Q

from gongzhi.observations.models import (
    QC_BACKFILL,
    QC_BITS,
    QC_INVALIDATING,
    QC_UNIT_CONVERTED,
    Observation,
    Revision,
    Series,
    ValidatedPeriod,
    qc_names,
)
from gongzhi.registry import models as reg
from gongzhi.sharing import policy

BEIJING = dt.timezone(dt.timedelta(hours=8))
#: QC bits that put a value on the review list (the informational ones do not).
REVIEW_QC = sum(QC_BITS) & ~(QC_UNIT_CONVERTED | QC_BACKFILL)
NORMAL_FLAGS = ("N", "")
#: HJ 212 data flags a device may send (2017 Table 6 and 2005), offered as filters.
DEVICE_FLAGS = ("F", "M", "S", "D", "C", "T", "B", "H", "P", "E")
PAGE_ROWS = 200
#: Longest period the list may cover at once.
MAX_DAYS = 92


@dataclass
class Holder:
    """A site or an outlet the user may review, with a key for forms (``site:CODE`` / ``outlet:ID``)."""

    key: str
    obj: object
    name: str
    name_en: str
    owner_id: int

    @property
    def is_site(self) -> bool:
        return isinstance(self.obj, reg.Site)


def reviewable(user) -> list[Holder]:
    """The sites and outlets whose data ``user`` may review (policy), sites first, by code."""
    out: list[Holder] = []
    for s in policy.visible(user, reg.Site.objects.select_related("owner").order_by("code")):
        if policy.can_review_data(user, s):
            out.append(Holder(f"site:{s.code}", s, s.name, s.name_en, s.owner_id))
    outlets = policy.visible(user, reg.Outlet.objects.select_related("enterprise").order_by("enterprise__name", "code"))
    for o in outlets:
        if policy.can_review_data(user, o):
            name = f"{o.enterprise.name} · {o.name or o.code}"
            name_en = f"{o.enterprise.code} · {o.code}"
            out.append(Holder(f"outlet:{o.pk}", o, name, name_en, o.enterprise.owner_id))
    return out


class NotFound(LookupError):
    """Unknown, or not visible to the user (pages answer 404)."""


class Forbidden(PermissionError):
    """Visible, but the user may not review its data (pages answer 403)."""


def holder_by_key(user, key: str):
    """The site or outlet named by ``key``, checked with the policy: :class:`NotFound` when it
    does not exist or the user may not see it, :class:`Forbidden` when the user may see it but
    not review it."""
    kind, _, ident = key.partition(":")
    obj = None
    if kind == "site":
        obj = reg.Site.objects.select_related("owner").filter(code=ident).first()
    elif kind == "outlet" and ident.isdigit():
        obj = reg.Outlet.objects.select_related("enterprise").filter(pk=int(ident)).first()
    if obj is None or not policy.can_view(user, obj):
        raise NotFound(key)
    if not policy.can_review_data(user, obj):
        raise Forbidden(key)
    return obj


def series_for_review(user, series_id: int) -> Series:
    """A series the user may review: :class:`NotFound` / :class:`Forbidden` as :func:`holder_by_key`."""
    s = Series.objects.select_related("parameter", "site", "outlet__enterprise").filter(pk=series_id).first()
    if s is None:
        raise NotFound(series_id)
    holder = s.site or s.outlet
    if not policy.can_view(user, holder):
        raise NotFound(series_id)
    if not policy.can_review_data(user, s):
        raise Forbidden(series_id)
    return s


@dataclass
class Filters:
    holders: list[Holder]
    start: dt.datetime
    end: dt.datetime
    parameter: reg.Parameter | None = None
    flag: str = ""  # "" all flagged | "invalid" | "revised" | "qc:<name>" | "flag:<X>"
    offset: int = 0


FLAG_CHOICES = (
    ["", "invalid", "revised"]
    + [f"qc:{name}" for bit, name in QC_BITS.items() if bit & REVIEW_QC]
    + [f"flag:{f}" for f in DEVICE_FLAGS]
)


def _flag_q(flag: str) -> Q:
    revised = Q(revised=True)
    if flag == "":
        return Q(review_bits__gt=0) | ~Q(flag__in=NORMAL_FLAGS) | revised
    if flag == "invalid":
        return Q(invalid_bits__gt=0)
    if flag == "revised":
        return revised
    if flag.startswith("qc:"):
        bit = next((b for b, n in QC_BITS.items() if n == flag[3:]), None)
        if bit is None:
            raise ValueError(f"unknown QC flag {flag[3:]!r}")
        return Q(**{f"qc_{flag[3:]}__gt": 0})
    if flag.startswith("flag:") and flag[5:] in DEVICE_FLAGS:
        return Q(flag=flag[5:])
    raise ValueError(f"unknown flag filter {flag!r}")


@dataclass
class ReviewRow:
    series: Series
    time: dt.datetime
    raw: float | None
    flag: str
    qc: int
    received: dt.datetime
    revisions: list[Revision] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.series.pk}-{int(self.time.timestamp() * 1_000_000)}"

    @property
    def time_param(self) -> str:
        return self.time.astimezone(dt.timezone.utc).isoformat()

    @property
    def local_time(self) -> dt.datetime:
        return self.time.astimezone(BEIJING)

    @property
    def current(self) -> Revision | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def value(self) -> float | None:
        return self.current.value if self.current else self.raw

    @property
    def invalid(self) -> bool:
        if self.current is not None:
            return self.current.invalid
        return bool(self.qc & QC_INVALIDATING) or self.flag not in NORMAL_FLAGS

    @property
    def qc_names(self) -> list[str]:
        return qc_names(self.qc)

    @property
    def holder(self):
        return self.series.site or self.series.outlet


def flagged_rows(f: Filters) -> tuple[list[ReviewRow], bool]:
    """Flagged values of the holders in ``[start, end)``, newest first, one page
    (:data:`PAGE_ROWS`) from ``offset``; returns (rows, more)."""
    site_ids = [h.obj.pk for h in f.holders if h.is_site]
    outlet_ids = [h.obj.pk for h in f.holders if not h.is_site]
    series = Series.objects.filter(Q(site_id__in=site_ids) | Q(outlet_id__in=outlet_ids))
    if f.parameter is not None:
        series = series.filter(parameter=f.parameter)
    series_ids = list(series.values_list("pk", flat=True))
    if not series_ids:
        return [], False
    qc_cols = {f"qc_{name}": F("qc").bitand(bit) for bit, name in QC_BITS.items()} if f.flag.startswith("qc:") else {}
    qs = (
        Observation.objects.filter(series_id__in=series_ids, time__gte=f.start, time__lt=f.end)
        .annotate(
            review_bits=F("qc").bitand(REVIEW_QC),
            invalid_bits=F("qc").bitand(QC_INVALIDATING),
            revised=Exists(Revision.objects.filter(series_id=OuterRef("series_id"), time=OuterRef("time"))),
            **qc_cols,
        )
        .filter(_flag_q(f.flag))
        .order_by("-time", "series_id")
        .values_list("series_id", "time", "value", "flag", "qc", "received")
    )
    found = list(qs[f.offset : f.offset + PAGE_ROWS + 1])
    more = len(found) > PAGE_ROWS
    found = found[:PAGE_ROWS]
    meta = Series.objects.select_related("parameter", "site", "outlet__enterprise").in_bulk({r[0] for r in found})
    rows = [ReviewRow(meta[sid], t, v, flag or "", qc, rec) for sid, t, v, flag, qc, rec in found]
    attach_revisions(rows)
    return rows, more


def attach_revisions(rows: list[ReviewRow]) -> None:
    """Fill each row's revision history (oldest first), one query."""
    if not rows:
        return
    keys = {(r.series.pk, r.time): r for r in rows}
    times = [r.time for r in rows]
    qs = (
        Revision.objects.filter(series_id__in={r.series.pk for r in rows}, time__gte=min(times), time__lte=max(times))
        .select_related("user")
        .order_by("version")
    )
    for rev in qs:
        row = keys.get((rev.series_id, rev.time))
        if row is not None:
            row.revisions.append(rev)


def review_row(series: Series, time: dt.datetime) -> ReviewRow | None:
    """One value (any, flagged or not) with its history; None if nothing is stored at that time."""
    found = Observation.objects.filter(series=series, time=time).values_list("value", "flag", "qc", "received").first()
    if found is None:
        return None
    row = ReviewRow(series, time, found[0], found[1] or "", found[2], found[3])
    attach_revisions([row])
    return row


def approved_periods(holders: list[Holder], *, limit: int = 50) -> list[ValidatedPeriod]:
    """The newest approvals of the holders' data."""
    site_ids = [h.obj.pk for h in holders if h.is_site]
    outlet_ids = [h.obj.pk for h in holders if not h.is_site]
    return list(
        ValidatedPeriod.objects.filter(Q(site_id__in=site_ids) | Q(outlet_id__in=outlet_ids))
        .select_related("site", "outlet__enterprise", "parameter", "approved_by")
        .order_by("-approved_at", "-pk")[:limit]
    )
