"""notify(): one in-app notification per recipient, deliveries per subscribed channel, de-duplication."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from gongzhi.notifications import services
from gongzhi.notifications.models import Delivery, Notification

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 Beijing


def _notify(recipients, **kw):
    args = dict(kind="alarm.opened", subject="急水港断面氨氮超标", body="氨氮 2.31 mg/L，超过Ⅲ类限值",
                subject_en="Ammonia exceeds the class III limit", ref="alarm:42", now=NOW)
    args.update(kw)
    return services.notify(recipients=recipients, **args)


def test_one_notification_per_recipient_with_both_languages(people):
    created = _notify([people["qp_duty"], people["ks_duty"], people["qp_duty"]], link="/alerts/42/", payload={"value": 2.31, "at": NOW})
    assert sorted(n.recipient.username for n in created) == ["ks-duty", "qp-duty"]
    n = Notification.objects.get(recipient=people["ks_duty"])
    assert (n.kind, n.ref, n.link, n.urgent, n.read_at) == ("alarm.opened", "alarm:42", "/alerts/42/", False, None)
    assert n.subject_for("en") == "Ammonia exceeds the class III limit"
    assert n.subject_for("zh-hans") == "急水港断面氨氮超标"
    assert n.body_for("en") == "氨氮 2.31 mg/L，超过Ⅲ类限值"  # no English body: the Chinese one
    assert n.payload == {"value": 2.31, "at": "2026-06-01 02:00:00+00:00"}


def test_same_kind_and_ref_is_not_notified_twice(people):
    assert len(_notify([people["qp_duty"]])) == 1
    again = _notify([people["qp_duty"], people["ks_duty"]])
    assert [n.recipient.username for n in again] == ["ks-duty"]
    assert len(_notify([people["qp_duty"]], kind="warning.escalated")) == 1
    assert Notification.objects.filter(recipient=people["qp_duty"]).count() == 2


def test_alarm_kinds_queue_email_for_users_with_an_address(people):
    _notify([people["qp_duty"], people["qp_noemail"]])
    emails = Delivery.objects.filter(channel="email")
    assert [d.notification.recipient.username for d in emails] == ["qp-duty"]
    assert emails.get().status == "queued" and emails.get().next_attempt_at == NOW


def test_other_kinds_queue_no_email_by_default(people):
    _notify([people["qp_duty"]], kind="report.ready")
    assert Notification.objects.count() == 1
    assert not Delivery.objects.exists()


def test_rolled_back_with_the_callers_transaction(people):
    with pytest.raises(RuntimeError), transaction.atomic():
        _notify([people["qp_duty"]])
        raise RuntimeError("the alarm could not be saved")
    assert not Notification.objects.exists() and not Delivery.objects.exists()


def test_no_recipients_and_missing_kind(people):
    assert _notify([]) == []
    assert _notify([None]) == []
    with pytest.raises(ValueError):
        _notify([people["qp_duty"]], kind=" ")


def test_unread_count_and_mark_read_only_own(people):
    mine = _notify([people["qp_duty"], people["ks_duty"]])
    _notify([people["qp_duty"]], ref="alarm:43")
    qp, ks = people["qp_duty"], people["ks_duty"]
    assert services.unread_count(user=qp) == 2
    ks_note = next(n for n in mine if n.recipient_id == ks.pk)
    qp_note = next(n for n in mine if n.recipient_id == qp.pk)
    assert services.mark_read(user=qp, notification_ids=[ks_note.pk, qp_note.pk, "x"]) == 1
    assert services.unread_count(user=qp) == 1
    assert services.unread_count(user=ks) == 1  # someone else's id changed nothing
    assert services.mark_read(user=qp, notification_ids="all") == 1
    assert services.unread_count(user=qp) == 0
