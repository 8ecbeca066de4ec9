"""Signed JSON webhooks against a real receiver on 127.0.0.1: signature checked by the receiver,
wrong secret rejected, retries with capped exponential backoff, permanent failure, and a hanging
endpoint that times out while the other deliveries of the batch go out."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from gongzhi.notifications import services, signing
from gongzhi.notifications.models import Delivery
from notify_servers import WebhookReceiver

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
SECRET = "qingpu-shared-secret-0123"


def _endpoint(bureau, url, *, secret=SECRET, kinds="", timeout=2.0, name="值班系统"):
    return services.save_webhook_endpoint(bureau=bureau, name=name, url=url, secret=secret, kinds=kinds, timeout_seconds=timeout)


def _alarm(recipients, *, ref="alarm:42", kind="alarm.opened", now=NOW, **kw):
    return services.notify(recipients=recipients, kind=kind, subject="急水港断面氨氮超标", body="氨氮 2.31 mg/L",
                           ref=ref, now=now, payload={"site": "QP-W1"}, **kw)


def test_signed_post_accepted_one_per_bureau_endpoint(people, bureaus):
    with WebhookReceiver(SECRET) as rx:
        _endpoint(bureaus["qp"], rx.url + "/qp")
        _endpoint(bureaus["ks"], rx.url + "/ks-warnings-only", kinds="warning.*")
        _alarm([people["qp_duty"], people["qp_noemail"], people["ks_duty"]])
        hooks = Delivery.objects.filter(channel="webhook")
        assert hooks.count() == 1  # two Qingpu recipients, one Qingpu endpoint; Kunshan's wants warnings only
        result = services.dispatch_due(now=NOW)
        assert result.failed == 0 and result.retried == 0
        (got,) = rx.accepted
        assert rx.rejected == []
    assert got["path"] == "/qp" and got["event"] == "alarm.opened"
    doc = got["json"]
    assert (doc["kind"], doc["subject"], doc["bureau"], doc["ref"], doc["payload"]) == (
        "alarm.opened", "急水港断面氨氮超标", "qingpu", "alarm:42", {"site": "QP-W1"})
    assert got["delivery"] == str(hooks.get().pk) == str(doc["delivery"])
    assert hooks.get().status == "sent"


def test_wrong_secret_is_rejected_and_fails_without_retry(people, bureaus):
    with WebhookReceiver(SECRET) as rx:
        _endpoint(bureaus["qp"], rx.url + "/qp", secret="not-the-receivers-secret")
        _alarm([people["qp_duty"]])
        services.dispatch_due(now=NOW)
        assert rx.accepted == [] and len(rx.rejected) == 1
    d = Delivery.objects.get(channel="webhook")
    assert (d.status, d.attempts, d.last_error) == ("failed", 1, "PermanentError: HTTP 401")


def test_retries_with_exponential_backoff_then_sent(people, bureaus, settings):
    settings.GONGZHI_NOTIFICATION_RETRY_BASE = 30
    settings.GONGZHI_NOTIFICATION_RETRY_CAP = 3600
    with WebhookReceiver(SECRET) as rx:
        _endpoint(bureaus["qp"], rx.url + "/fail/2")
        _alarm([people["qp_duty"]], kind="report.ready")  # no email for this kind: the webhook only
        d = Delivery.objects.get()
        assert services.dispatch_due(now=NOW).retried == 1
        d.refresh_from_db()
        assert (d.status, d.attempts, d.next_attempt_at, d.last_error) == ("queued", 1, NOW + dt.timedelta(seconds=30), "RetryableError: HTTP 503")
        assert services.dispatch_due(now=NOW + dt.timedelta(seconds=29)).claimed == 0  # not due yet
        assert services.dispatch_due(now=NOW + dt.timedelta(seconds=30)).retried == 1
        d.refresh_from_db()
        assert d.next_attempt_at == NOW + dt.timedelta(seconds=30 + 60)
        assert services.dispatch_due(now=NOW + dt.timedelta(seconds=90)).sent == 1
        d.refresh_from_db()
        assert (d.status, d.attempts, d.last_error) == ("sent", 3, "")
        assert len(rx.accepted) == 1


def test_gives_up_after_max_attempts_and_backoff_is_capped(people, bureaus, settings):
    settings.GONGZHI_NOTIFICATION_RETRY_BASE = 30
    settings.GONGZHI_NOTIFICATION_RETRY_CAP = 60
    settings.GONGZHI_NOTIFICATION_MAX_ATTEMPTS = 4
    with WebhookReceiver(SECRET) as rx:
        _endpoint(bureaus["qp"], rx.url + "/fail/100")
        _alarm([people["qp_duty"]], kind="report.ready")
        d = Delivery.objects.get()
        at, waits = NOW, []
        for _ in range(4):
            assert services.dispatch_due(now=at).claimed == 1
            d.refresh_from_db()
            if d.next_attempt_at:
                waits.append((d.next_attempt_at - at).total_seconds())
                at = d.next_attempt_at
        assert waits == [30, 60, 60]
        assert (d.status, d.attempts) == ("failed", 4)
        assert services.dispatch_due(now=at + dt.timedelta(days=1)).claimed == 0
        assert rx.seen[("/fail/100", str(d.pk))] == 4


def test_gone_is_permanent_and_refused_connection_is_retried(people, bureaus):
    with WebhookReceiver(SECRET) as rx:
        gone = _endpoint(bureaus["qp"], rx.url + "/gone", name="gone")
        closed = _endpoint(bureaus["qp"], "http://127.0.0.1:9/", name="closed", timeout=1)  # discard port: nothing listens
        _alarm([people["qp_duty"]], kind="report.ready")
        services.dispatch_due(now=NOW)
    assert Delivery.objects.get(endpoint=gone).status == "failed"
    refused = Delivery.objects.get(endpoint=closed)
    assert refused.status == "queued" and refused.last_error.startswith("RetryableError: connection failed")


def test_hanging_endpoint_times_out_while_the_rest_goes_out(people, bureaus):
    with WebhookReceiver(SECRET, hang_seconds=6) as rx:
        hanging = _endpoint(bureaus["qp"], rx.url + "/hang", name="hangs", timeout=0.5)
        _endpoint(bureaus["qp"], rx.url + "/fine", name="fine")
        _endpoint(bureaus["ks"], rx.url + "/fine-ks", name="fine-ks")
        _alarm([people["qp_duty"], people["ks_duty"]])
        started = time.monotonic()
        result = services.dispatch_due(now=NOW)
        elapsed = time.monotonic() - started
        assert sorted(a["path"] for a in rx.accepted) == ["/fine", "/fine-ks"]
    assert elapsed < 6  # did not wait for the hanging endpoint to answer
    assert (result.sent, result.retried) == (4, 1)  # two webhooks + two emails sent
    assert len(mail.outbox) == 2
    d = Delivery.objects.get(endpoint=hanging)
    assert d.status == "queued" and "timed out after 0.5 s" in d.last_error


def test_endpoint_validation(bureaus):
    with pytest.raises(ValidationError):
        services.save_webhook_endpoint(bureau=bureaus["qp"], name="x", url="http://127.0.0.1/", secret="short")
    with pytest.raises(ValidationError):
        services.save_webhook_endpoint(bureau=bureaus["qp"], name="x", url="ftp://example/", secret="x" * 20)


def test_signature_scheme():
    body = json.dumps({"kind": "alarm.opened"}).encode()
    ts = 1_780_000_000
    sig = signing.sign("s3cret-s3cret-s3cret", ts, body)
    assert sig.startswith("v1=") and len(sig) == 3 + 64
    assert signing.verify("s3cret-s3cret-s3cret", str(ts), body, sig, now=ts + 10)
    assert signing.verify("s3cret-s3cret-s3cret", ts, body, f"v1={'0' * 64}, {sig}", now=ts)  # rotation: any one matches
    assert not signing.verify("other-secret-other", ts, body, sig, now=ts)
    assert not signing.verify("s3cret-s3cret-s3cret", ts, body + b" ", sig, now=ts)
    assert not signing.verify("s3cret-s3cret-s3cret", ts, body, sig, now=ts + 301)  # outside the replay window
    assert not signing.verify("s3cret-s3cret-s3cret", "yesterday", body, sig, now=ts)
    # the published computation: HMAC-SHA256(secret, "<ts>." + body), hex
    import hashlib
    import hmac
    assert sig == "v1=" + hmac.new(b"s3cret-s3cret-s3cret", b"1780000000." + body, hashlib.sha256).hexdigest()
