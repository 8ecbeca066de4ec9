"""Signed JSON webhooks (回调): POST the delivery document to a bureau's endpoint, signed with
HMAC-SHA256 over ``timestamp + "." + body`` (scheme in :mod:`gongzhi.notifications.signing`)."""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request

from django.utils.translation import gettext_lazy as _

from gongzhi.notifications import signing
from gongzhi.notifications.channels.base import Channel, PermanentError, RetryableError, delivery_document, document_bytes

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirected POST would lose its body or change method: report it instead


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
    """POST and return the status; raise RetryableError/PermanentError as the outcome says."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "gongzhi-webhook/1", **headers})
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
        if status in RETRYABLE_STATUS:
            raise RetryableError(f"HTTP {status}") from None
        raise PermanentError(f"HTTP {status}") from None
    except (TimeoutError, socket.timeout) as exc:
        raise RetryableError(f"timed out after {timeout:g} s") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise RetryableError(f"timed out after {timeout:g} s") from exc
        if isinstance(exc.reason, str) and "unknown url type" in exc.reason:
            raise PermanentError(str(exc.reason)) from exc
        raise RetryableError(f"connection failed: {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise RetryableError(f"{type(exc).__name__}: {exc}") from exc
    except ValueError as exc:  # malformed URL
        raise PermanentError(f"bad URL: {exc}") from exc


class WebhookChannel(Channel):
    name = "webhook"
    label = _("回调（Webhook）")
    per_user = False
    concurrency = 4
    timeout = 30.0  # upper bound; each endpoint has its own timeout_seconds

    def send(self, delivery) -> None:
        endpoint = delivery.endpoint
        if endpoint is None:
            raise PermanentError("webhook delivery without an endpoint")
        if not endpoint.active:
            raise PermanentError("endpoint is disabled")
        body = document_bytes(delivery_document(delivery))
        ts = int(time.time())
        headers = {
            signing.TIMESTAMP_HEADER: str(ts),
            signing.SIGNATURE_HEADER: signing.sign(endpoint.secret, ts, body),
            signing.DELIVERY_HEADER: str(delivery.pk),
            signing.EVENT_HEADER: delivery.notification.kind,
        }
        status = post(endpoint.url, body, headers, timeout=min(endpoint.timeout_seconds, self.timeout))
        if not 200 <= status < 300:
            raise PermanentError(f"HTTP {status}")
