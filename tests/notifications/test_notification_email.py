"""dispatch_due() sending email through Django's locmem backend."""

from __future__ import annotations

import datetime as dt

from django.core import mail

from gongzhi.notifications import services
from gongzhi.notifications.models import Delivery

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)


def test_email_is_sent_once_with_both_languages(people):
    services.notify(recipients=[people["qp_duty"]], kind="alarm.opened", subject="急水港断面氨氮超标",
                    body="氨氮 2.31 mg/L", subject_en="Ammonia exceedance", body_en="NH3-N 2.31 mg/L",
                    link="/alerts/42/", ref="alarm:42", now=NOW)
    assert mail.outbox == []  # notify never sends
    result = services.dispatch_due(now=NOW)
    assert (result.claimed, result.sent) == (1, 1)
    (message,) = mail.outbox
    assert message.to == ["duty@qingpu.example"]
    assert message.subject == "急水港断面氨氮超标 / Ammonia exceedance"
    assert "氨氮 2.31 mg/L" in message.body and "NH3-N 2.31 mg/L" in message.body and "/alerts/42/" in message.body
    d = Delivery.objects.get()
    assert (d.status, d.attempts, d.sent_at, d.claim_token) == ("sent", 1, NOW, "")
    assert services.dispatch_due(now=NOW + dt.timedelta(hours=1)).claimed == 0
    assert len(mail.outbox) == 1


def test_urgent_subject_is_marked(people):
    services.notify(recipients=[people["ks_duty"]], kind="warning.downstream", subject="上游来水预警",
                    body="预计 3 小时后到达", urgent=True, now=NOW)
    services.dispatch_due(now=NOW)
    assert mail.outbox[0].subject.startswith("【紧急 URGENT】上游来水预警")
