"""Writers of the notifications app (keyword-only functions; the only code that changes its tables).

- :func:`notify` stores one in-app notification per recipient inside the caller's transaction and
  queues one :class:`~gongzhi.notifications.models.Delivery` per subscribed channel. It never sends
  and never raises for a channel problem.
- :func:`dispatch_due` claims due deliveries (safe with several dispatchers), sends them on worker
  threads (a slow or failing channel never holds up the others), and records the outcome: sent,
  retried with exponential backoff, deferred by quiet hours, or failed for good.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import fnmatch
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import close_old_connections, connections, transaction
from django.db.models import F, Model, Q
from django.utils import timezone

from gongzhi.notifications.channels import all_channels, get_channel
from gongzhi.notifications.channels.base import Channel, PermanentError, RetryableError
from gongzhi.notifications.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    QuietHours,
    Subscription,
    WebhookEndpoint,
)

log = logging.getLogger("gongzhi.notifications")

BEIJING = ZoneInfo("Asia/Shanghai")
#: a claim older than this is taken to belong to a dispatcher that died mid-batch
STALE_CLAIM = dt.timedelta(minutes=10)

_wake = threading.Event()  # set when a notify() commits, so a dispatcher loop in this process starts at once


def _setting(name: str, default):
    return getattr(settings, name, default)


# --- notify ---------------------------------------------------------------------------------------


def notify(*, recipients, kind: str, subject: str, body: str, subject_en: str = "", body_en: str = "",
           link: str = "", payload: dict | None = None, ref: str = "", urgent: bool = False,
           now: dt.datetime | None = None) -> list[Notification]:
    """Create one in-app notification per recipient (a User) inside the caller's transaction and
    queue a delivery per subscribed channel. Never sends anything synchronously; never raises for a
    channel problem. ``kind`` is e.g. ``"alarm.opened"``, ``"warning.downstream"``,
    ``"warning.escalated"``; ``ref`` identifies the source object (e.g. ``"alarm:42"``).

    ``recipients`` is an iterable of users (a list, a queryset) or one user. De-duplication: a
    recipient who already has a notification of the same ``kind`` and ``ref`` (``ref`` not empty)
    is skipped. Inactive users and repeated users are skipped. Returns the notifications created."""
    now = now or timezone.now()
    kind = (kind or "").strip()[:64]
    ref = (ref or "")[:128]
    if not kind:
        raise ValueError("notify() needs a kind, e.g. 'alarm.opened'")
    if isinstance(recipients, Model):  # one user given as such
        recipients = [recipients]
    users: dict[int, object] = {}
    for user in recipients or ():
        if user is not None and getattr(user, "pk", None) and getattr(user, "is_active", True):
            users.setdefault(user.pk, user)
    if not users:
        return []
    payload = _json_safe(payload or {})
    with transaction.atomic():
        if ref:
            seen = set(Notification.objects.filter(recipient_id__in=users, kind=kind, ref=ref).values_list("recipient_id", flat=True))
            for pk in seen:
                users.pop(pk, None)
            if not users:
                return []
        created = Notification.objects.bulk_create([
            Notification(
                recipient_id=pk, kind=kind, subject=(subject or "")[:200], body=body or "",
                subject_en=(subject_en or "")[:200], body_en=body_en or "", link=(link or "")[:500],
                payload=payload, ref=ref, urgent=bool(urgent), created=now,
            )
            for pk in users
        ])
        if any(n.pk is None for n in created):  # a backend without RETURNING: read the rows back
            created = list(Notification.objects.filter(recipient_id__in=users, kind=kind, created=now, ref=ref).order_by("id"))
        for n in created:
            n.recipient = users[n.recipient_id]
        _queue_deliveries(created, kind=kind, urgent=bool(urgent), now=now)
        transaction.on_commit(_wake.set)
    return created


def _json_safe(payload):
    """The payload as plain JSON so storing it cannot fail on either database: dates and decimals
    become strings, NaN and infinities (a broken sensor's value) become null, keys become strings."""

    def clean(value, depth=0):
        if depth > 50:
            return None
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if value is None or isinstance(value, (str, int, bool)):
            return value
        if isinstance(value, dict):
            return {str(k): clean(v, depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [clean(v, depth + 1) for v in value]
        if isinstance(value, Decimal):
            return str(value) if value.is_finite() else None
        if hasattr(value, "item") and callable(value.item):  # a NumPy scalar
            try:
                return clean(value.item(), depth + 1)
            except (TypeError, ValueError):
                pass
        return str(value)

    try:
        cleaned = clean(payload)
        json.dumps(cleaned, allow_nan=False)
        return cleaned
    except (TypeError, ValueError, RecursionError):
        return {"unserialisable_payload": repr(payload)[:1000]}


def _queue_deliveries(notifications: list[Notification], *, kind: str, urgent: bool, now: dt.datetime) -> None:
    try:
        channels = all_channels()
    except Exception:  # a broken channel setting must not lose the in-app notifications
        log.exception("notification channels could not be loaded; only in-app notifications were stored")
        return
    user_ids = [n.recipient_id for n in notifications]
    subs = _subscriptions_by_user(user_ids)
    quiet = {q.user_id: q for q in QuietHours.objects.filter(user_id__in=user_ids, enabled=True)}
    rows: list[Delivery] = []
    for channel in channels.values():
        if channel.immediate:
            continue
        if channel.per_user:
            for n in notifications:
                try:
                    wanted = wants(n.recipient, kind, channel, subs.get(n.recipient_id, ()))
                except Exception:
                    log.exception("channel %s failed deciding on user %s", channel.name, n.recipient_id)
                    continue
                if wanted:
                    rows.append(_new_delivery(n, channel.name, None, quiet.get(n.recipient_id), urgent, now))
        else:
            by_bureau: dict[int, Notification] = {}
            for n in notifications:
                bureau_id = getattr(n.recipient, "bureau_id", None)
                if bureau_id:
                    by_bureau.setdefault(bureau_id, n)
            if not by_bureau:
                continue
            for endpoint in WebhookEndpoint.objects.filter(bureau_id__in=by_bureau, active=True):
                if matches_any(kind, endpoint.patterns()):
                    n = by_bureau[endpoint.bureau_id]
                    rows.append(_new_delivery(n, channel.name, endpoint, quiet.get(n.recipient_id), urgent, now))
    if rows:
        Delivery.objects.bulk_create(rows)


def _new_delivery(n: Notification, channel: str, endpoint, quiet: QuietHours | None, urgent: bool, now: dt.datetime) -> Delivery:
    until = None if urgent else quiet_until(quiet, now)
    return Delivery(
        notification=n, channel=channel, endpoint=endpoint, created=now,
        status=DeliveryStatus.DEFERRED if until else DeliveryStatus.QUEUED, next_attempt_at=until or now,
    )


# --- subscriptions --------------------------------------------------------------------------------


def pattern_matches(pattern: str, kind: str) -> bool:
    return pattern == "*" or pattern == kind or ("*" in pattern and fnmatch.fnmatchcase(kind, pattern))


def matches_any(kind: str, patterns: Iterable[str]) -> bool:
    return any(pattern_matches(p, kind) for p in patterns)


def _specificity(pattern: str) -> tuple[int, int]:
    if "*" not in pattern:
        return (2, len(pattern))
    return (1 if pattern != "*" else 0, len(pattern))


def _subscriptions_by_user(user_ids) -> dict[int, list[Subscription]]:
    out: dict[int, list[Subscription]] = {}
    for s in Subscription.objects.filter(user_id__in=list(user_ids)):
        out.setdefault(s.user_id, []).append(s)
    return out


def wants(user, kind: str, channel: Channel, subscriptions: Iterable[Subscription] | None = None) -> bool:
    """Whether ``user`` gets ``kind`` on ``channel``: the most specific matching subscription of
    the user decides; without one, the channel's default. A channel with no address for the user
    (no email, no phone) never gets a delivery."""
    if channel.immediate:
        return True
    if not channel.can_reach(user):
        return False
    if subscriptions is None:
        subscriptions = Subscription.objects.filter(user=user, channel=channel.name)
    best = None
    for s in subscriptions:
        if s.channel == channel.name and pattern_matches(s.kind_pattern, kind):
            if best is None or _specificity(s.kind_pattern) > _specificity(best.kind_pattern):
                best = s
    if best is not None:
        return best.enabled
    return channel.default_enabled(user, kind)


def set_subscription(*, user, kind_pattern: str, channel: str, enabled: bool) -> Subscription:
    kind_pattern = kind_pattern.strip()
    if not kind_pattern:
        raise ValueError("kind_pattern is empty")
    if get_channel(channel) is None:
        raise ValueError(f"unknown channel {channel!r}")
    sub, _ = Subscription.objects.update_or_create(user=user, kind_pattern=kind_pattern, channel=channel, defaults={"enabled": enabled})
    return sub


def valid_id(value) -> int | None:
    """``value`` as a row id, or None when it cannot name a row (not a number, ≤ 0, ≥ 2**63)."""
    try:
        pk = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return pk if 0 < pk < 2**63 else None


def delete_subscription(*, user, subscription_id) -> int:
    pk = valid_id(subscription_id)
    if pk is None:
        return 0
    return Subscription.objects.filter(user=user, pk=pk).delete()[0]


# --- quiet hours ----------------------------------------------------------------------------------


def quiet_until(quiet: QuietHours | None, now: dt.datetime) -> dt.datetime | None:
    """When the quiet period that contains ``now`` ends (aware datetime), or None if ``now`` is
    not inside one. Times are Beijing time; a period may cross midnight (22:00–07:00). A period
    whose start equals its end is empty."""
    if quiet is None or not quiet.enabled or quiet.start == quiet.end:
        return None
    local = now.astimezone(BEIJING)
    t = local.time().replace(tzinfo=None)
    day = local.date()
    if quiet.start < quiet.end:
        inside = quiet.start <= t < quiet.end
        end_day = day
    else:  # crosses midnight
        inside = t >= quiet.start or t < quiet.end
        end_day = day + dt.timedelta(days=1) if t >= quiet.start else day
    if not inside:
        return None
    return dt.datetime.combine(end_day, quiet.end, tzinfo=BEIJING)


def set_quiet_hours(*, user, start: dt.time | None, end: dt.time | None, enabled: bool = True) -> QuietHours | None:
    """Set (or with ``start``/``end`` None, remove) the user's quiet hours."""
    if start is None or end is None:
        QuietHours.objects.filter(user=user).delete()
        return None
    q, _ = QuietHours.objects.update_or_create(user=user, defaults={"start": start, "end": end, "enabled": enabled})
    return q


# --- in-app ---------------------------------------------------------------------------------------


def mark_read(*, user, notification_ids, now: dt.datetime | None = None) -> int:
    """Mark the user's own notifications read; ids of other users' notifications are ignored.
    ``notification_ids="all"`` marks everything read. Returns how many changed."""
    now = now or timezone.now()
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids != "all":
        # anything that cannot name a row is ignored (a huge number would overflow the database's integer)
        ids = [pk for pk in map(valid_id, notification_ids or ()) if pk is not None]
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=now)


def unread_count(*, user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def notifications_for(*, user, unread_only: bool = False):
    """The user's own notifications, newest first (reading, not writing; here so views do no filtering)."""
    qs = Notification.objects.filter(recipient=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created", "-id")


# --- dispatch -------------------------------------------------------------------------------------


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)  # delivery id → sent/retry/failed/deferred

    def __str__(self) -> str:
        return (f"claimed {self.claimed}, sent {self.sent}, retried {self.retried}, "
                f"failed {self.failed}, deferred {self.deferred}")


def backoff(attempts: int) -> dt.timedelta:
    """Wait before attempt ``attempts + 1``: base · 2^(attempts−1), capped."""
    base = float(_setting("GONGZHI_NOTIFICATION_RETRY_BASE", 30))
    cap = float(_setting("GONGZHI_NOTIFICATION_RETRY_CAP", 3600))
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def _due_q(now: dt.datetime) -> Q:
    return (
        Q(status__in=[DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED], next_attempt_at__lte=now)
        | Q(status=DeliveryStatus.SENDING, claimed_at__lt=now - STALE_CLAIM)
    )


def claim_due(*, now: dt.datetime, limit: int = 200) -> tuple[str, list[Delivery]]:
    """Claim up to ``limit`` due deliveries for this dispatcher.

    One ``UPDATE … SET status='sending', claim_token=<new> WHERE id IN (…) AND <still due>``:
    on PostgreSQL a concurrent claimer re-checks the WHERE after the row lock and skips rows
    already taken; on SQLite writers are serialised. Either way each row has one owner."""
    token = secrets.token_hex(8)
    ids = list(Delivery.objects.filter(_due_q(now)).order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
    if not ids:
        return token, []
    Delivery.objects.filter(_due_q(now), id__in=ids).update(status=DeliveryStatus.SENDING, claim_token=token, claimed_at=now)
    rows = list(Delivery.objects.filter(claim_token=token, status=DeliveryStatus.SENDING).select_related("notification").order_by("id"))
    # recipients and endpoints repeat across a batch: load each once, not once per row
    users = get_user_model().objects.in_bulk({d.notification.recipient_id for d in rows})
    endpoints = WebhookEndpoint.objects.select_related("bureau").in_bulk({d.endpoint_id for d in rows if d.endpoint_id})
    for d in rows:
        d.notification.recipient = users[d.notification.recipient_id]
        if d.endpoint_id:
            d.endpoint = endpoints[d.endpoint_id]
    return token, rows


def dispatch_due(*, now: dt.datetime | None = None, limit: int = 200) -> DispatchResult:
    """Send due deliveries: claim, apply quiet hours, send on per-channel worker threads, record.

    Never raises for a channel problem: each delivery ends sent, queued again with backoff,
    deferred to the end of the recipient's quiet hours, or failed after the attempt limit or a
    permanent error."""
    now = now or timezone.now()
    result = DispatchResult()
    token, rows = claim_due(now=now, limit=limit)
    result.claimed = len(rows)
    if not rows:
        return result
    quiet = {q.user_id: q for q in QuietHours.objects.filter(user_id__in={d.notification.recipient_id for d in rows}, enabled=True)}
    by_channel: dict[str, list[Delivery]] = {}
    for d in rows:
        channel = get_channel(d.channel)
        if channel is None:
            _finish(d, token, result, now, error=PermanentError(f"channel {d.channel!r} is not configured"))
            continue
        until = None if d.notification.urgent else quiet_until(quiet.get(d.notification.recipient_id), now)
        if until:
            Delivery.objects.filter(pk=d.pk, claim_token=token).update(
                status=DeliveryStatus.DEFERRED, next_attempt_at=until, claim_token="", claimed_at=None)
            result.deferred += 1
            result.outcomes[d.pk] = "deferred"
            continue
        by_channel.setdefault(d.channel, []).append(d)
    if by_channel:
        outcomes = list(_send_all(by_channel))
        # one transaction for the batch's bookkeeping: one commit instead of one per delivery
        with transaction.atomic():
            sent = [d.pk for d, error in outcomes if error is None]
            if sent:
                Delivery.objects.filter(pk__in=sent, claim_token=token, status=DeliveryStatus.SENDING).update(
                    status=DeliveryStatus.SENT, attempts=F("attempts") + 1, sent_at=now, last_error="", claim_token="")
                result.sent += len(sent)
                result.outcomes.update(dict.fromkeys(sent, "sent"))
            for d, error in outcomes:
                if error is not None:
                    _finish(d, token, result, now, error=error)
    return result


def _send_one(channel: Channel, delivery: Delivery) -> Exception | None:
    try:
        channel.send(delivery)
    except Exception as exc:  # noqa: BLE001 - a plug-in's bug is a retryable channel problem
        return exc
    return None


def _send_all(by_channel: dict[str, list[Delivery]]):
    """Yield (delivery, error or None). Each channel has its own pool, so a slow channel only
    occupies its own workers; a send that outlives its channel's timeout counts as retryable."""
    pools: list[cf.ThreadPoolExecutor] = []
    futures: dict[cf.Future, tuple[Delivery, Channel]] = {}
    deadline = 0.0
    start = time.monotonic()
    for name, deliveries in by_channel.items():
        channel = get_channel(name)
        workers = max(1, min(int(channel.concurrency or 1), len(deliveries)))
        pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"notify-{name}")
        pools.append(pool)
        for d in deliveries:
            futures[pool.submit(_send_one, channel, d)] = (d, channel)
        rounds = math.ceil(len(deliveries) / workers)
        deadline = max(deadline, float(channel.timeout) * rounds + 1.0)
    try:
        done, not_done = cf.wait(futures, timeout=deadline)
        for fut in done:
            d, _channel = futures[fut]
            yield d, fut.result()
        for fut in not_done:
            d, channel = futures[fut]
            fut.cancel()
            yield d, RetryableError(f"no answer from channel {channel.name} within {time.monotonic() - start:.0f} s")
    finally:
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)


def _finish(d: Delivery, token: str, result: DispatchResult, now: dt.datetime, *, error: Exception | None) -> None:
    attempts = d.attempts + 1
    mine = Delivery.objects.filter(pk=d.pk, claim_token=token, status=DeliveryStatus.SENDING)
    if error is None:
        mine.update(status=DeliveryStatus.SENT, attempts=attempts, sent_at=now, last_error="", claim_token="")
        result.sent += 1
        result.outcomes[d.pk] = "sent"
        return
    message = f"{type(error).__name__}: {error}"[:2000]
    max_attempts = int(_setting("GONGZHI_NOTIFICATION_MAX_ATTEMPTS", 8))
    if isinstance(error, PermanentError) or attempts >= max_attempts:
        mine.update(status=DeliveryStatus.FAILED, attempts=attempts, last_error=message, claim_token="", next_attempt_at=None)
        result.failed += 1
        result.outcomes[d.pk] = "failed"
        log.warning("notification delivery %s (%s) failed for good after %d attempt(s): %s", d.pk, d.channel, attempts, message)
    else:
        mine.update(status=DeliveryStatus.QUEUED, attempts=attempts, last_error=message, claim_token="",
                    next_attempt_at=now + backoff(attempts))
        result.retried += 1
        result.outcomes[d.pk] = "retry"


def retry_now(*, delivery_ids, now: dt.datetime | None = None) -> int:
    """Put failed or waiting deliveries back in the queue for an immediate attempt (admin action)."""
    now = now or timezone.now()
    return Delivery.objects.filter(pk__in=list(delivery_ids)).exclude(status__in=[DeliveryStatus.SENT, DeliveryStatus.SENDING]).update(
        status=DeliveryStatus.QUEUED, next_attempt_at=now, claim_token="")


def purge(*, days: int = 180, now: dt.datetime | None = None) -> int:
    """Delete notifications older than ``days`` days, with their deliveries, unless a delivery is
    still waiting to go out (queued, sending, deferred). Returns how many notifications went."""
    if days < 1:
        raise ValueError("days must be at least 1")
    now = now or timezone.now()
    waiting = Delivery.objects.filter(status__in=[DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED])
    old = Notification.objects.filter(created__lt=now - dt.timedelta(days=days)).exclude(pk__in=waiting.values("notification_id"))
    ids = list(old.values_list("pk", flat=True))
    with transaction.atomic():
        for start in range(0, len(ids), 1000):
            Notification.objects.filter(pk__in=ids[start:start + 1000]).delete()
    return len(ids)


# --- the dispatcher loop --------------------------------------------------------------------------


def run_dispatcher(stop: threading.Event, *, interval: float = 2.0, limit: int = 200) -> None:
    """Dispatch until ``stop`` is set: at once when a notify() in this process commits, else every
    ``interval`` seconds. Database errors are logged and the loop carries on."""
    while not stop.is_set():
        busy = False
        _wake.clear()  # a notify() committing from here on wakes the next round
        try:
            close_old_connections()
            result = dispatch_due(limit=limit)
            busy = result.claimed >= limit
            if result.claimed:
                log.info("notifications: %s", result)
        except Exception:  # noqa: BLE001 - keep the loop alive (database restart, lock timeout)
            log.exception("notification dispatch failed; retrying in %s s", interval)
        if not busy:
            _wake.wait(interval)
    connections.close_all()  # this thread's connections


class _StopEvent(threading.Event):
    """Setting it also wakes the loop, so it stops at once instead of after its interval."""

    def set(self) -> None:
        super().set()
        _wake.set()


def start_dispatcher_thread(*, interval: float = 2.0) -> tuple[threading.Thread, threading.Event]:
    """Run :func:`run_dispatcher` on a daemon thread (used by ``gongzhi demo``); set the returned
    event to stop it."""
    stop = _StopEvent()
    thread = threading.Thread(target=run_dispatcher, args=(stop,), kwargs={"interval": interval},
                              name="notification-dispatcher", daemon=True)
    thread.start()
    return thread, stop


# --- webhook endpoints ----------------------------------------------------------------------------

MIN_SECRET_LENGTH = 16


def webhook_endpoint_errors(endpoint: WebhookEndpoint) -> dict[str, str]:
    """The service's own rules beyond the model fields (used by the admin form too)."""
    from django.utils.translation import gettext as _t

    errors = {}
    if len(endpoint.secret or "") < MIN_SECRET_LENGTH:
        errors["secret"] = _t("签名密钥至少 %(n)d 个字符") % {"n": MIN_SECRET_LENGTH}
    try:
        timeout_ok = 0.1 <= float(endpoint.timeout_seconds) <= 30
    except (TypeError, ValueError):
        timeout_ok = False
    if not timeout_ok:
        errors["timeout_seconds"] = _t("超时应在 0.1 到 30 秒之间")
    if endpoint.url and not endpoint.url.lower().startswith(("http://", "https://")):
        errors["url"] = _t("地址须以 http:// 或 https:// 开头")
    return errors


def save_webhook_endpoint(*, endpoint: WebhookEndpoint | None = None, bureau=None, name: str | None = None,
                          url: str | None = None, secret: str | None = None, kinds: str | None = None,
                          active: bool | None = None, timeout_seconds: float | None = None) -> WebhookEndpoint:
    """Create or change a bureau's webhook endpoint (validated: http(s) URL, secret of at least
    16 characters, timeout between 0.1 and 30 s)."""
    from django.core.exceptions import ValidationError

    endpoint = endpoint or WebhookEndpoint()
    for attr, value in (("bureau", bureau), ("name", name), ("url", url), ("secret", secret), ("kinds", kinds),
                        ("active", active), ("timeout_seconds", timeout_seconds)):
        if value is not None:
            setattr(endpoint, attr, value)
    errors = webhook_endpoint_errors(endpoint)
    if errors:
        raise ValidationError(errors)
    endpoint.full_clean()
    endpoint.save()
    return endpoint
