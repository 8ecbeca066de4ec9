"""Who is acting right now: a context variable set by the request middleware,
by the CLI and by services (``with acting_as(user, via="import"): ...``)."""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user: object | None = None
    via: str = ""
    reason: str = ""

    @property
    def name(self) -> str:
        if self.user is None:
            return self.via or "system"
        return getattr(self.user, "username", str(self.user))


_current: contextvars.ContextVar[Actor] = contextvars.ContextVar("gongzhi_audit_actor", default=Actor(via="system"))


def current_actor() -> Actor:
    return _current.get()


@contextmanager
def acting_as(user=None, *, via: str = "", reason: str = ""):
    token = _current.set(Actor(user=user, via=via, reason=reason))
    try:
        yield
    finally:
        _current.reset(token)
