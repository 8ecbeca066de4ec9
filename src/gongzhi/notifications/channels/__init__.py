"""Channel registry: the channels named by dotted path in ``GONGZHI_NOTIFICATION_CHANNELS``."""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from gongzhi.notifications.channels.base import Channel, ChannelError, PermanentError, RetryableError

__all__ = ["Channel", "ChannelError", "PermanentError", "RetryableError", "all_channels", "get_channel", "DEFAULT_CHANNELS"]

DEFAULT_CHANNELS = (
    "gongzhi.notifications.channels.inapp.InAppChannel",
    "gongzhi.notifications.channels.email.EmailChannel",
    "gongzhi.notifications.channels.webhook.WebhookChannel",
)

_lock = threading.Lock()
_cache: dict[str, Channel] | None = None


def _load() -> dict[str, Channel]:
    paths = list(getattr(settings, "GONGZHI_NOTIFICATION_CHANNELS", DEFAULT_CHANNELS))
    if "gongzhi.notifications.channels.inapp.InAppChannel" not in paths:
        paths.insert(0, "gongzhi.notifications.channels.inapp.InAppChannel")  # in-app is always on
    channels: dict[str, Channel] = {}
    for path in paths:
        obj = import_string(path)
        channel = obj() if isinstance(obj, type) else obj
        if not getattr(channel, "name", ""):
            raise ValueError(f"notification channel {path} has no name")
        channels[channel.name] = channel
    return channels


def all_channels() -> dict[str, Channel]:
    global _cache
    with _lock:
        if _cache is None:
            _cache = _load()
        return _cache


def get_channel(name: str) -> Channel | None:
    return all_channels().get(name)


def reset(**kwargs) -> None:
    global _cache
    with _lock:
        _cache = None


def _on_setting_changed(*, setting, **kwargs):
    if setting.startswith(("GONGZHI_NOTIFICATION", "EMAIL_")):
        reset()


setting_changed.connect(_on_setting_changed)
