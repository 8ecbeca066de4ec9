"""Email over SMTP (电子邮件) through Django's email backend, configured from the environment
(GONGZHI_EMAIL_HOST, _PORT, _USER, _PASSWORD, _USE_TLS, _USE_SSL, _FROM, _TIMEOUT; see
docs/notifications.md)."""

from __future__ import annotations

import smtplib
import socket

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.translation import gettext_lazy as _

from gongzhi.notifications.channels.base import Channel, PermanentError, RetryableError

#: kinds that go out by email to every user with an address unless they unsubscribe
DEFAULT_KINDS = ("alarm.", "warning.")


def compose(notification) -> tuple[str, str]:
    """Subject and body: Chinese first, the English text below when there is one."""
    n = notification
    subject = n.subject if not n.subject_en else f"{n.subject} / {n.subject_en}"
    if n.urgent:
        subject = f"【紧急 URGENT】{subject}"
    parts = [n.body or n.subject]
    if n.subject_en or n.body_en:
        parts.append("-- English --\n" + (n.body_en or n.subject_en))
    if n.link:
        base = getattr(settings, "GONGZHI_BASE_URL", "").rstrip("/")
        parts.append(f"{base}{n.link}" if n.link.startswith("/") else n.link)
    return subject.replace("\n", " ")[:250], "\n\n".join(parts) + "\n"


class EmailChannel(Channel):
    name = "email"
    label = _("电子邮件")
    concurrency = 2

    @property
    def timeout(self) -> float:  # type: ignore[override]
        return float(getattr(settings, "EMAIL_TIMEOUT", None) or 10) + 2

    def default_enabled(self, user, kind: str) -> bool:
        return bool(user.email) and kind.startswith(DEFAULT_KINDS)

    def can_reach(self, user) -> bool:
        return bool(user.email)

    def send(self, delivery) -> None:
        user = delivery.notification.recipient
        if not user.email:
            raise PermanentError("recipient has no email address")
        subject, body = compose(delivery.notification)
        message = EmailMessage(
            subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[user.email],
            headers={"X-Gongzhi-Delivery": str(delivery.pk), "X-Gongzhi-Event": delivery.notification.kind},
        )
        try:
            connection = get_connection(fail_silently=False)
            sent = connection.send_messages([message])
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise RetryableError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise RetryableError(f"{type(exc).__name__}: {exc}") from exc
        if not sent:
            raise RetryableError("the email backend sent nothing")
