"""Example pluggable channel for SMS or WeCom gateways (短信/企业微信网关): run a configured
local command with the delivery document as JSON on stdin.

``GONGZHI_NOTIFICATION_COMMAND`` is the command line (split like a shell would, no shell is
run), e.g. ``/opt/sms-gateway/send --account bureau``. Exit status 0 means sent, 75
(``EX_TEMPFAIL``) means try again later, any other status means the message cannot be sent.
A command that runs longer than ``GONGZHI_NOTIFICATION_COMMAND_TIMEOUT`` seconds (default 10)
is killed and retried. The document carries the recipient's phone number."""

from __future__ import annotations

import os
import shlex
import subprocess

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from gongzhi.notifications.channels.base import Channel, PermanentError, RetryableError, delivery_document, document_bytes

EX_TEMPFAIL = 75


class CommandChannel(Channel):
    name = "sms"
    label = _("短信/企业微信网关")
    concurrency = 2

    def __init__(self, command: str | None = None, timeout: float | None = None):
        self.command = command if command is not None else getattr(settings, "GONGZHI_NOTIFICATION_COMMAND", "")
        self.timeout = float(timeout if timeout is not None else getattr(settings, "GONGZHI_NOTIFICATION_COMMAND_TIMEOUT", 10))

    def can_reach(self, user) -> bool:
        return bool(getattr(user, "phone", ""))

    def send(self, delivery) -> None:
        if not self.command:
            raise PermanentError("GONGZHI_NOTIFICATION_COMMAND is not set")
        argv = shlex.split(self.command)
        body = document_bytes(delivery_document(delivery))
        try:
            done = subprocess.run(argv, input=body, capture_output=True, timeout=self.timeout, check=False,
                                  env={**os.environ, "GONGZHI_DELIVERY": str(delivery.pk)})
        except subprocess.TimeoutExpired:
            raise RetryableError(f"command timed out after {self.timeout:g} s") from None
        except FileNotFoundError as exc:
            raise PermanentError(f"command not found: {argv[0]}") from exc
        except OSError as exc:
            raise RetryableError(f"{type(exc).__name__}: {exc}") from exc
        if done.returncode == 0:
            return
        detail = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-300:]
        message = f"exit {done.returncode}" + (f": {detail}" if detail else "")
        if done.returncode == EX_TEMPFAIL:
            raise RetryableError(message)
        raise PermanentError(message)
