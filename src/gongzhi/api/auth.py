"""Authentication of API requests.

* ``Authorization: Bearer gzt_…`` — a user's API token: the request acts as that user.
* ``Authorization: Bearer gzk_…`` — a partner key: the principal is its bureau; scope
  ``push`` only (the push route), every other route answers 403 ``insufficient_scope``.
* the Django session cookie — the web pages' own JavaScript calls; unsafe methods need
  the CSRF token (``X-CSRFToken`` header). Read routes only.

A bearer secret that is presented but not valid is answered 401 at once (with the reason:
``invalid_token``, ``token_expired``, ``token_revoked``, ``account_disabled``), never
silently ignored in favour of a session.
"""

from __future__ import annotations

from dataclasses import dataclass

from ninja.security import HttpBearer, SessionAuth

from gongzhi.accounts.models import Role, User
from gongzhi.api import services
from gongzhi.api.errors import ApiError
from gongzhi.api.models import ApiToken, PartnerKey

BEARER_HEADERS = {"WWW-Authenticate": 'Bearer realm="gongzhi", error="invalid_token"'}


@dataclass(frozen=True)
class Partner:
    """The principal of a partner key: its bureau."""

    key: PartnerKey

    @property
    def bureau(self):
        return self.key.bureau

    def as_policy_user(self) -> User:
        """An unsaved stand-in user of the bureau with no role of its own, so that the one
        policy module answers "may this bureau see that object" (see :mod:`gongzhi.sharing.policy`)."""
        return User(username=f"partner-key:{self.key.prefix}", bureau=self.key.bureau, role=Role.VIEWER, is_active=True)


def _check(token: str):
    try:
        return services.check_secret(token.strip())
    except services.SecretRejected as exc:
        raise ApiError(401, exc.code, exc.message, headers=BEARER_HEADERS) from None


class UserToken(HttpBearer):
    """A user's API token (``gzt_…``)."""

    def authenticate(self, request, token):
        obj = _check(token)
        if isinstance(obj, PartnerKey):
            raise ApiError(403, "insufficient_scope", "partner API keys may only push data (POST /api/v1/push/observations)")
        assert isinstance(obj, ApiToken)
        request.user = obj.user
        request.api_token = obj
        return obj.user


class PartnerKeyAuth(HttpBearer):
    """A partner bureau's push key (``gzk_…``)."""

    def authenticate(self, request, token):
        obj = _check(token)
        if not isinstance(obj, PartnerKey):
            raise ApiError(403, "insufficient_scope", "this route needs a partner API key (scope push), not a user token")
        return Partner(obj)


class UserSession(SessionAuth):
    """The signed-in user's session (CSRF checked on unsafe methods)."""

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


#: Read routes: token first (a bad token is refused, not ignored), then the session.
READ_AUTH = [UserToken(), UserSession()]
PUSH_AUTH = [PartnerKeyAuth()]
