"""Subscriptions with defaults and the most specific pattern winning; quiet hours with a fake clock
(deferred, released at the end, urgent overrides, across midnight; in-app is immediate)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from gongzhi.notifications import services
from gongzhi.notifications.channels import get_channel
from gongzhi.notifications.models import Delivery, Notification, QuietHours

BJ = services.BEIJING


def at(hour, minute=0, day=1):
    return dt.datetime(2026, 6, day, hour, minute, tzinfo=BJ)


def _send(users, *, kind="alarm.opened", now, urgent=False, ref="alarm:1"):
    return services.notify(recipients=users, kind=kind, subject="告警", body="正文", ref=ref, urgent=urgent, now=now)


# --- subscriptions ---


def test_defaults_email_for_alarm_and_warning_kinds_only(people):
    email = get_channel("email")
    duty = people["qp_duty"]
    assert services.wants(duty, "alarm.opened", email)
    assert services.wants(duty, "warning.downstream", email)
    assert not services.wants(duty, "report.ready", email)
    assert not services.wants(people["qp_noemail"], "alarm.opened", email)  # no address
    assert services.wants(people["qp_noemail"], "report.ready", get_channel("inapp"))  # in-app always


def test_most_specific_subscription_wins(people):
    duty, email = people["qp_duty"], get_channel("email")
    services.set_subscription(user=duty, kind_pattern="*", channel="email", enabled=False)
    assert not services.wants(duty, "alarm.opened", email)
    services.set_subscription(user=duty, kind_pattern="warning.*", channel="email", enabled=True)
    assert services.wants(duty, "warning.escalated", email)
    assert not services.wants(duty, "alarm.opened", email)
    services.set_subscription(user=duty, kind_pattern="warning.downstream", channel="email", enabled=False)
    assert not services.wants(duty, "warning.downstream", email)
    assert services.wants(duty, "warning.escalated", email)
    # setting the same pattern again updates, it does not add
    services.set_subscription(user=duty, kind_pattern="warning.downstream", channel="email", enabled=True)
    assert duty.notification_subscriptions.count() == 3
    assert services.wants(duty, "warning.downstream", email)


def test_unsubscribed_user_gets_in_app_but_no_email(people):
    services.set_subscription(user=people["qp_duty"], kind_pattern="alarm.*", channel="email", enabled=False)
    _send([people["qp_duty"], people["ks_duty"]], now=at(10))
    assert Notification.objects.count() == 2
    assert [d.notification.recipient.username for d in Delivery.objects.filter(channel="email")] == ["ks-duty"]


def test_unknown_channel_and_empty_pattern_are_refused(people):
    with pytest.raises(ValueError):
        services.set_subscription(user=people["qp_duty"], kind_pattern="alarm.*", channel="carrier-pigeon", enabled=True)
    with pytest.raises(ValueError):
        services.set_subscription(user=people["qp_duty"], kind_pattern=" ", channel="email", enabled=True)


# --- quiet hours ---


@pytest.mark.parametrize(("start", "end", "now", "until"), [
    ((22, 0), (7, 0), at(23, 30), at(7, 0, day=2)),   # evening side of a period across midnight
    ((22, 0), (7, 0), at(3, 0), at(7, 0)),            # morning side
    ((22, 0), (7, 0), at(7, 0), None),                # the end itself is outside
    ((22, 0), (7, 0), at(12, 0), None),
    ((22, 0), (7, 0), at(22, 0), at(7, 0, day=2)),    # the start itself is inside
    ((12, 0), (14, 0), at(13, 0), at(14, 0)),         # same-day period
    ((12, 0), (14, 0), at(14, 30), None),
    ((9, 0), (9, 0), at(9, 0), None),                 # empty period
])
def test_quiet_until(start, end, now, until):
    q = QuietHours(start=dt.time(*start), end=dt.time(*end), enabled=True)
    assert services.quiet_until(q, now) == until
    assert services.quiet_until(q, now.astimezone(dt.UTC)) == until  # the clock's zone does not matter


def test_deferred_during_quiet_hours_and_released_at_the_end(people):
    duty = people["qp_duty"]
    services.set_quiet_hours(user=duty, start=dt.time(22), end=dt.time(7))
    _send([duty], now=at(23, 30))
    assert services.unread_count(user=duty) == 1  # in-app is immediate
    d = Delivery.objects.get(channel="email")
    assert (d.status, d.next_attempt_at) == ("deferred", at(7, 0, day=2))
    assert services.dispatch_due(now=at(23, 31)).claimed == 0
    assert services.dispatch_due(now=at(6, 59, day=2)).claimed == 0
    assert mail.outbox == []
    assert services.dispatch_due(now=at(7, 0, day=2)).sent == 1
    assert len(mail.outbox) == 1


def test_urgent_overrides_quiet_hours(people):
    duty = people["qp_duty"]
    services.set_quiet_hours(user=duty, start=dt.time(22), end=dt.time(7))
    _send([duty], now=at(2, 0), urgent=True)
    assert Delivery.objects.get().status == "queued"
    assert services.dispatch_due(now=at(2, 0)).sent == 1


def test_quiet_hours_set_after_queueing_defer_at_dispatch(people):
    duty = people["qp_duty"]
    _send([duty], now=at(21, 59))
    services.set_quiet_hours(user=duty, start=dt.time(22), end=dt.time(7))
    result = services.dispatch_due(now=at(22, 5))  # the dispatcher was late: now inside the quiet period
    assert (result.claimed, result.deferred, result.sent) == (1, 1, 0)
    d = Delivery.objects.get()
    assert (d.status, d.next_attempt_at, d.attempts, d.claim_token) == ("deferred", at(7, 0, day=2), 0, "")
    assert services.dispatch_due(now=at(7, 0, day=2)).sent == 1


def test_disabled_or_removed_quiet_hours_do_not_defer(people):
    duty = people["qp_duty"]
    services.set_quiet_hours(user=duty, start=dt.time(22), end=dt.time(7), enabled=False)
    _send([duty], now=at(23), ref="a")
    services.set_quiet_hours(user=duty, start=None, end=None)
    assert not QuietHours.objects.exists()
    _send([duty], now=at(23), ref="b")
    assert set(Delivery.objects.values_list("status", flat=True)) == {"queued"}
