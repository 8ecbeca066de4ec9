"""The ingestion status page (运行状态, ``/status/``): the data loggers a user may see with their
last packet and online state, error counts by reason over the last hour and day from the raw
archive (:class:`gongzhi.ingest.models.RawPacket`), the newest quarantined packets, and codes
the catalog does not know.

What a user sees is decided by :mod:`gongzhi.sharing.policy`: the devices of the user's own
bureau (devices carry passwords: owners only), and — for platform operators only
(:func:`~gongzhi.sharing.policy.can_view_unattributed_packets`) — packets that belong to no
device (unknown MN, bytes that did not frame).

Online rule: a device is *online* when its last accepted (or re-acknowledged duplicate) packet
arrived within ``max(OFFLINE_FACTOR × interval_s, MIN_OFFLINE)`` of now (``interval_s`` is the
device's real-time interval, HJ 212 CN 2011); *offline* when older; *never* ("no packet archived") when the
archive holds no such packet (history back-filled into the store leaves none); *disabled* when the device is switched off in the registry.

Every query is an indexed aggregate: the last packet of a device is one index probe on
``(mn, received)`` (a correlated ``ORDER BY received DESC LIMIT 1``), the error counts a range
scan of ``(verdict, received)`` over the last 24 h — nothing scans the whole archive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, Q, Subquery
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language

from gongzhi.ingest.models import RawPacket, Verdict
from gongzhi.registry import models as reg
from gongzhi.sharing import policy

BEIJING = dt.timezone(dt.timedelta(hours=8))
OFFLINE_FACTOR = 3
MIN_OFFLINE = dt.timedelta(minutes=5)
ERROR_VERDICTS = (Verdict.REJECTED, Verdict.QUARANTINED)
DATA_VERDICTS = (Verdict.ACCEPTED, Verdict.DUPLICATE)
RECENT_QUARANTINE = 50
QUARANTINE_DAYS = 7
UNKNOWN_CODES = 50


@dataclass
class DeviceStatus:
    device: reg.Device
    last_packet: dt.datetime | None
    last_data: dt.datetime | None
    errors_24h: int
    state: str  # online | offline | never | disabled

    @property
    def expected(self) -> dt.timedelta:
        return max(dt.timedelta(seconds=self.device.interval_s * OFFLINE_FACTOR), MIN_OFFLINE)

    @property
    def holder(self):
        return self.device.site or self.device.outlet


def state_of(device: reg.Device, last_data: dt.datetime | None, now: dt.datetime) -> str:
    if not device.enabled:
        return "disabled"
    if last_data is None:
        return "never"
    limit = max(dt.timedelta(seconds=device.interval_s * OFFLINE_FACTOR), MIN_OFFLINE)
    return "online" if now - last_data <= limit else "offline"


def _packet_scope(user, mns: list[str]) -> Q:
    """The archive rows the user may count: its devices' packets, plus unattributed ones for
    operators (policy)."""
    if policy.can_view_unattributed_packets(user):
        return Q()  # every packet: the devices of all bureaus and those of no device
    return Q(mn__in=mns)


def device_statuses(user, *, now: dt.datetime) -> list[DeviceStatus]:
    devices = policy.visible(user, reg.Device.objects.select_related("site", "outlet__enterprise")).order_by("mn")
    last_any = RawPacket.objects.filter(mn=OuterRef("mn")).order_by("-received").values("received")[:1]
    last_data = (
        RawPacket.objects.filter(mn=OuterRef("mn"), verdict__in=DATA_VERDICTS).order_by("-received").values("received")[:1]
    )
    rows = list(devices.annotate(last_packet=Subquery(last_any), last_data=Subquery(last_data)))
    since = now - dt.timedelta(hours=24)
    errors = dict(
        RawPacket.objects.filter(verdict__in=ERROR_VERDICTS, received__gte=since, mn__in=[d.mn for d in rows])
        .values_list("mn")
        .annotate(n=Count("id"))
        .values_list("mn", "n")
    )
    return [
        DeviceStatus(d, d.last_packet, d.last_data, errors.get(d.mn, 0), state_of(d, d.last_data, now)) for d in rows
    ]


def error_counts(user, mns: list[str], *, now: dt.datetime) -> list[dict]:
    """Rejected and quarantined packets by (verdict, reason) over the last hour and 24 h."""
    hour = now - dt.timedelta(hours=1)
    rows = (
        RawPacket.objects.filter(_packet_scope(user, mns), verdict__in=ERROR_VERDICTS, received__gte=now - dt.timedelta(hours=24))
        .values("verdict", "reason")
        .annotate(n_24h=Count("id"), n_1h=Count("id", filter=Q(received__gte=hour)))
        .order_by("-n_24h", "verdict", "reason")
    )
    return [dict(r) for r in rows]


def packet_counts(user, mns: list[str], *, now: dt.datetime) -> dict:
    """Packets by verdict in the last hour (range scan of ``received``)."""
    rows = (
        RawPacket.objects.filter(_packet_scope(user, mns), received__gte=now - dt.timedelta(hours=1))
        .values_list("verdict")
        .annotate(n=Count("id"))
        .values_list("verdict", "n")
    )
    out = {v: 0 for v in Verdict.values}
    out.update(dict(rows))
    return out


def quarantined(user, mns: list[str], *, now: dt.datetime, limit: int = RECENT_QUARANTINE) -> list[RawPacket]:
    """The newest quarantined packets of the last :data:`QUARANTINE_DAYS` days (unknown MN, bad
    password, disabled device), without their bytes (they carry the PW). Bounded in time so the
    query is a range of the ``(verdict, received)`` index even when none of them is the user's
    (unbounded, it walked every quarantined packet ever archived)."""
    since = now - dt.timedelta(days=QUARANTINE_DAYS)
    return list(
        RawPacket.objects.filter(_packet_scope(user, mns), verdict=Verdict.QUARANTINED, received__gte=since)
        .order_by("-received")
        .only("id", "received", "peer", "mn", "cn", "reason", "detail")[:limit]
    )


def unknown_codes(user, *, limit: int = UNKNOWN_CODES) -> list[reg.UnknownCode]:
    return list(policy.visible(user, reg.UnknownCode.objects.filter(resolved_to__isnull=True)).order_by("-count", "code")[:limit])


def status_context(user, *, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    devices = device_statuses(user, now=now)
    mns = [d.device.mn for d in devices]
    states = {s: 0 for s in ("online", "offline", "never", "disabled")}
    for d in devices:
        states[d.state] += 1
    errors = error_counts(user, mns, now=now)
    return {
        "now": now,
        "devices": devices,
        "states": states,
        "packets_1h": packet_counts(user, mns, now=now),
        "errors": errors,
        "errors_1h": sum(e["n_1h"] for e in errors),
        "errors_24h": sum(e["n_24h"] for e in errors),
        "quarantined": quarantined(user, mns, now=now),
        "quarantine_days": QUARANTINE_DAYS,
        "unknown_codes": unknown_codes(user),
        "unattributed": policy.can_view_unattributed_packets(user),
        "english": (get_language() or "").startswith("en"),
        "offline_factor": OFFLINE_FACTOR,
        "min_offline_minutes": int(MIN_OFFLINE.total_seconds() // 60),
    }


@login_required
def status_page(request):
    return render(request, "web/status.html", status_context(request.user))
