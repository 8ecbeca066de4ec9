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


def test_no_recipients_one_user_inactive_users_and_missing_kind(people):
    assert _notify([]) == []
    assert [n.recipient_id for n in _notify(people["qp_duty"])] == [people["qp_duty"].pk]
    people["ks_duty"].is_active = False
    people["ks_duty"].save()
    assert _notify(type(people["ks_duty"]).objects.filter(username="ks-duty"), ref="alarm:2") == []
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
    assert services.mark_read(user=qp, notification_ids=[ks_note.pk, qp_note.pk, "x", None, 2**70, -1]) == 1
    assert services.unread_count(user=qp) == 1
    assert services.unread_count(user=ks) == 1  # someone else's id changed nothing
    assert services.mark_read(user=qp, notification_ids="all") == 1
    assert services.unread_count(user=qp) == 0


def test_purge_keeps_recent_and_still_waiting(people):
    old = NOW - dt.timedelta(days=200)
    _notify([people["qp_duty"]], kind="report.ready", ref="r:old-inapp", now=old)          # old, in-app only: goes
    sent = _notify([people["qp_duty"]], ref="r:old-sent", now=old)[0]                       # old, email sent: goes
    waiting = _notify([people["ks_duty"]], ref="r:old-waiting", now=old)[0]                 # old, email queued: stays
    recent = _notify([people["qp_duty"]], ref="r:recent", now=NOW)[0]                       # recent: stays
    Delivery.objects.filter(notification=sent).update(status="sent")
    assert services.purge(days=180, now=NOW) == 2
    assert set(Notification.objects.values_list("pk", flat=True)) == {waiting.pk, recent.pk}
    assert Delivery.objects.filter(notification=sent).count() == 0
    with pytest.raises(ValueError):
        services.purge(days=0)


def test_cli_purge(people, capsys):
    from gongzhi.cli import main

    _notify([people["qp_duty"]], kind="report.ready", ref="r:1", now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert main(["notifications", "purge", "--days", "30"]) == 0
    assert "1 notifications older than 30 days deleted" in capsys.readouterr().out
    assert main(["notifications", "purge", "--days", "0"]) == 2


def test_payload_is_stored_as_plain_json_whatever_it_holds(people):
    from decimal import Decimal

    import numpy as np

    payload = {"value": float("nan"), "peak": float("inf"), "limit": Decimal("1.50"), "bad": Decimal("NaN"),
               "count": np.int64(3), "mean": np.float64(2.5), "np_nan": np.float64("nan"), "at": NOW,
               "sites": ("QP-W1", "KS-W1"), 7: {"nested": [float("-inf"), 1]}}
    (n,) = _notify([people["qp_duty"]], payload=payload)
    n.refresh_from_db()
    assert n.payload == {"value": None, "peak": None, "limit": "1.50", "bad": None, "count": 3, "mean": 2.5, "np_nan": None,
                         "at": "2026-06-01 02:00:00+00:00", "sites": ["QP-W1", "KS-W1"], "7": {"nested": [None, 1]}}


def test_long_kind_and_ref_still_deduplicate(people):
    kind, ref = "alarm." + "x" * 80, "alarm:" + "9" * 200
    assert len(_notify([people["qp_duty"]], kind=kind, ref=ref)) == 1
    assert _notify([people["qp_duty"]], kind=kind, ref=ref) == []
