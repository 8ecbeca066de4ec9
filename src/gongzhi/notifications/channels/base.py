"""The channel interface. A channel has a ``name`` and ``send(delivery)``; it raises
:class:`RetryableError` (try again later, with backoff) or :class:`PermanentError` (give up now).
Returning normally means sent. ``send`` runs in a worker thread and must not touch the database:
everything it needs is on ``delivery`` (``delivery.notification``, its ``recipient`` and
``delivery.endpoint`` are loaded before the call)."""

from __future__ import annotations

import json
from typing import Any


class ChannelError(Exception):
    """A channel could not send a delivery."""


class RetryableError(ChannelError):
    """Temporary: the dispatcher retries with exponential backoff up to the attempt limit."""


class PermanentError(ChannelError):
    """Will not get better by retrying (bad address, rejected signature): the delivery fails now."""


class Channel:
    """Base class of the notification channels (subclass and register its dotted path in
    ``GONGZHI_NOTIFICATION_CHANNELS``)."""

    #: the name stored on deliveries and subscriptions
    name: str = ""
    #: Chinese label shown on the settings page (translated by Django i18n)
    label: str = ""
    #: seconds the dispatcher waits for one ``send`` before it counts as a retryable timeout
    timeout: float = 10.0
    #: how many deliveries of this channel may be in flight at once
    concurrency: int = 4
    #: per-user channels get one delivery per subscribed recipient; endpoint channels (webhooks)
    #: get one per matching endpoint of the recipients' bureaus
    per_user: bool = True
    #: delivered the moment it is created (in-app): no Delivery rows, no quiet hours
    immediate: bool = False

    def default_enabled(self, user, kind: str) -> bool:
        """Whether ``user`` gets ``kind`` on this channel when no subscription says otherwise."""
        return False

    def can_reach(self, user) -> bool:
        """Whether this channel has an address for ``user`` (an email, a phone number)."""
        return True

    def send(self, delivery) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def delivery_document(delivery) -> dict[str, Any]:
    """The JSON document that webhooks and gateway channels send for a delivery."""
    n = delivery.notification
    user = n.recipient
    doc: dict[str, Any] = {
        "delivery": delivery.pk,
        "notification": n.pk,
        "kind": n.kind,
        "urgent": n.urgent,
        "subject": n.subject,
        "body": n.body,
        "subject_en": n.subject_en,
        "body_en": n.body_en,
        "link": n.link,
        "ref": n.ref,
        "payload": n.payload,
        "created": n.created.isoformat(),
        "attempt": delivery.attempts + 1,
    }
    if delivery.endpoint_id is None:
        doc["recipient"] = {
            "username": user.username,
            "name": user.get_full_name(),
            "email": user.email,
            "phone": getattr(user, "phone", ""),
        }
    else:
        doc["bureau"] = delivery.endpoint.bureau.code if delivery.endpoint.bureau_id else None
    return doc


def document_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")
