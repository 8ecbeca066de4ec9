"""In-app (站内通知): the Notification row itself. Always on, immediate, never deferred;
the header badge polls the unread count."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from gongzhi.notifications.channels.base import Channel


class InAppChannel(Channel):
    name = "inapp"
    label = _("站内通知")
    immediate = True

    def default_enabled(self, user, kind: str) -> bool:
        return True

    def send(self, delivery) -> None:
        """Nothing to do: the notification was stored when it was created."""
