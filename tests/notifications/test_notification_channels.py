"""The gateway command channel (SMS/WeCom example), email over a real SMTP connection, channel
configuration from settings, and a broken channel that never stops notify() or the batch."""

from __future__ import annotations

import datetime as dt
import json
import shlex
import sys
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from django.core import mail

from gongzhi import config
from gongzhi.notifications import services
from gongzhi.notifications.channels import all_channels
from gongzhi.notifications.channels.base import Channel
from gongzhi.notifications.models import Delivery, Notification
from notify_servers import TinySMTP

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
WITH_SMS = [*config.DEFAULT_NOTIFICATION_CHANNELS, "gongzhi.notifications.channels.command.CommandChannel"]

GATEWAY = """
import json, pathlib, sys, time
doc = json.load(sys.stdin)
mode = sys.argv[2]
if mode == "tempfail":
    sys.exit(75)
if mode == "reject":
    print("number blocked", file=sys.stderr); sys.exit(2)
if mode == "slow":
    time.sleep(5)
pathlib.Path(sys.argv[1], f"{doc['delivery']}.json").write_text(json.dumps(doc, ensure_ascii=False))
"""


@pytest.fixture
def gateway(tmp_path, settings, people):
    script = tmp_path / "gateway.py"
    script.write_text(GATEWAY)
    spool = tmp_path / "spool"
    spool.mkdir()
    settings.GONGZHI_NOTIFICATION_CHANNELS = WITH_SMS
    settings.GONGZHI_NOTIFICATION_COMMAND_TIMEOUT = 1

    def use(mode):
        settings.GONGZHI_NOTIFICATION_COMMAND = shlex.join([sys.executable, str(script), str(spool), mode])

    for user in people.values():
        services.set_subscription(user=user, kind_pattern="warning.*", channel="sms", enabled=True)
    return use, spool


def _warn(people, **kw):
    return services.notify(recipients=list(people.values()), kind="warning.downstream", subject="上游来水预警",
                           body="预计 14:20 到达急水港交界断面", ref="warning:7", now=NOW, **kw)


def test_command_gateway_gets_the_json_with_the_phone(gateway, people):
    use, spool = gateway
    use("ok")
    _warn(people)
    sms = Delivery.objects.filter(channel="sms")
    assert sms.count() == 2  # the analyst has no phone number
    assert services.dispatch_due(now=NOW).failed == 0
    docs = sorted((json.loads(p.read_text()) for p in spool.iterdir()), key=lambda d: d["recipient"]["phone"])
    assert [d["recipient"]["phone"] for d in docs] == ["13800000001", "13800000002"]
    assert docs[0]["subject"] == "上游来水预警" and docs[0]["kind"] == "warning.downstream"
    assert set(sms.values_list("status", flat=True)) == {"sent"}


@pytest.mark.parametrize(("mode", "status", "error"), [
    ("tempfail", "queued", "RetryableError: exit 75"),
    ("reject", "failed", "PermanentError: exit 2: number blocked"),
    ("slow", "queued", "RetryableError: command timed out after 1 s"),
])
def test_command_gateway_outcomes(gateway, people, mode, status, error):
    use, spool = gateway
    use(mode)
    _warn(people)
    services.dispatch_due(now=NOW)
    for d in Delivery.objects.filter(channel="sms"):
        assert (d.status, d.last_error) == (status, error)
    assert list(spool.iterdir()) == []
    assert len(mail.outbox) == 2  # email went out regardless


def test_real_smtp_round_trip(people, settings):
    with TinySMTP(refuse={"duty@kunshan.example"}) as smtp:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", smtp.port, 3
        settings.DEFAULT_FROM_EMAIL = "gongzhi@qingpu.example"
        services.notify(recipients=[people["qp_duty"], people["ks_duty"]], kind="alarm.opened",
                        subject="急水港断面氨氮超标", body="氨氮 2.31 mg/L", ref="alarm:42", now=NOW)
        smtp.busy = True
        assert services.dispatch_due(now=NOW).retried == 2  # 451: try again later
        smtp.busy = False
        result = services.dispatch_due(now=NOW + dt.timedelta(minutes=1))
        assert (result.sent, result.failed) == (1, 1)
        (got,) = smtp.messages
    assert got["to"] == ["duty@qingpu.example"] and got["from"] == "gongzhi@qingpu.example"
    msg = message_from_bytes(got["data"])
    assert str(make_header(decode_header(msg["Subject"]))) == "急水港断面氨氮超标"
    assert "氨氮 2.31 mg/L" in msg.get_payload(decode=True).decode("utf-8")
    refused = Delivery.objects.get(notification__recipient=people["ks_duty"])
    assert refused.status == "failed" and "recipient refused" in refused.last_error


class ExplodingChannel(Channel):
    name = "explodes"

    def default_enabled(self, user, kind):
        return True

    def send(self, delivery):
        raise KeyError("a bug in a plug-in")


class BrokenDecisionChannel(Channel):
    name = "undecided"

    def default_enabled(self, user, kind):
        raise RuntimeError("cannot decide")


def test_a_buggy_channel_never_stops_notify_or_the_batch(people, settings):
    settings.GONGZHI_NOTIFICATION_CHANNELS = [*config.DEFAULT_NOTIFICATION_CHANNELS,
                                              f"{__name__}.ExplodingChannel", f"{__name__}.BrokenDecisionChannel"]
    assert set(all_channels()) == {"inapp", "email", "webhook", "explodes", "undecided"}
    services.notify(recipients=[people["qp_duty"]], kind="alarm.opened", subject="告警", body="", now=NOW)
    assert set(Delivery.objects.values_list("channel", flat=True)) == {"email", "explodes"}
    result = services.dispatch_due(now=NOW)
    assert (result.sent, result.retried) == (1, 1)
    assert Delivery.objects.get(channel="explodes").last_error == "KeyError: 'a bug in a plug-in'"


def test_unloadable_channel_setting_keeps_the_in_app_notification(people, settings):
    settings.GONGZHI_NOTIFICATION_CHANNELS = ["gongzhi.notifications.channels.nowhere.Nothing"]
    created = services.notify(recipients=[people["qp_duty"]], kind="alarm.opened", subject="告警", body="", now=NOW)
    assert len(created) == 1 and Notification.objects.count() == 1 and not Delivery.objects.exists()


def test_delivery_for_a_channel_no_longer_configured_fails(people, settings):
    services.notify(recipients=[people["qp_duty"]], kind="alarm.opened", subject="告警", body="", now=NOW)
    settings.GONGZHI_NOTIFICATION_CHANNELS = ["gongzhi.notifications.channels.inapp.InAppChannel"]
    assert services.dispatch_due(now=NOW).failed == 1
    assert Delivery.objects.get().last_error == "PermanentError: channel 'email' is not configured"


def test_channel_setting_from_the_environment():
    assert config.notification_channels({}) == list(config.DEFAULT_NOTIFICATION_CHANNELS)
    assert config.notification_channels({"GONGZHI_NOTIFICATION_CHANNELS": " a.B , c.D ,"}) == ["a.B", "c.D"]


def test_email_settings_from_the_environment(tmp_path):
    smtp = config.email({"GONGZHI_EMAIL_HOST": "mail.bureau.example", "GONGZHI_EMAIL_USE_TLS": "1",
                         "GONGZHI_EMAIL_USER": "u", "GONGZHI_EMAIL_FROM": "gz@bureau.example"}, mode="production", root=tmp_path)
    assert (smtp.backend, smtp.host, smtp.port, smtp.use_tls, smtp.user, smtp.from_address) == (
        "django.core.mail.backends.smtp.EmailBackend", "mail.bureau.example", 587, True, "u", "gz@bureau.example")
    demo = config.email({}, mode="demo", root=tmp_path)
    assert demo.backend.endswith("filebased.EmailBackend") and demo.file_path == tmp_path / "mail"
    with pytest.raises(config.ConfigError):
        config.email({"GONGZHI_EMAIL_USE_TLS": "1", "GONGZHI_EMAIL_USE_SSL": "1"}, mode="production")
    with pytest.raises(config.ConfigError):
        config.email({"GONGZHI_EMAIL_PORT": "smtp"}, mode="production")
