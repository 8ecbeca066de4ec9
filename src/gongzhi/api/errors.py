"""One error format for every error of the API (4xx and 5xx, validation errors included)::

    {"error": {"code": "not_found", "message": "site not found", "details": []}}

``code`` is stable and meant for programs; ``message`` is for people; ``details`` is a
list of objects (validation errors: ``{"loc": [...], "message": ..., "type": ...}``).
Routes raise :class:`ApiError`; the handlers installed by :func:`install` turn ninja's,
Django's and any unexpected exception into the same shape. :func:`json_errors` wraps
the URL views so that Django-level answers (405 from ninja's path views, unknown
routes under ``/api/``) use it too.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

log = logging.getLogger("gongzhi.api")

#: Default code per status, for errors raised without one.
STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
    500: "internal_error",
}


class ApiError(Exception):
    """An error answer: HTTP ``status``, machine ``code``, human ``message``, ``details``."""

    def __init__(self, status: int, code: str, message: str, details: list | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}


def not_found(what: str = "object") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


class ErrorBody(Schema):
    code: str
    message: str
    details: list[Any] = []


class ErrorOut(Schema):
    """The error format of every error answer."""

    error: ErrorBody


def payload(code: str, message: str, details: list | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or []}}


def error_response(status: int, code: str | None, message: str, details: list | None = None, headers: dict | None = None) -> HttpResponse:
    body = json.dumps(payload(code or STATUS_CODES.get(status, "error"), message, details), ensure_ascii=False)
    response = HttpResponse(body, status=status, content_type="application/json; charset=utf-8")
    for k, v in (headers or {}).items():
        response[k] = v
    return response


def _validation_details(errors: list[dict]) -> list[dict]:
    out = []
    for e in errors:
        loc = [str(x) if not isinstance(x, int) else x for x in e.get("loc", ())]
        out.append({"loc": loc, "message": str(e.get("msg", "")), "type": str(e.get("type", ""))})
    return out


def install(api) -> None:
    """Install the handlers on a :class:`ninja.NinjaAPI` (replacing ninja's defaults)."""

    @api.exception_handler(ApiError)
    def _api_error(request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @api.exception_handler(ValidationError)
    def _validation(request, exc: ValidationError):
        return error_response(400, "invalid_request", "the request is not valid", _validation_details(exc.errors))

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request, exc):
        return error_response(
            401, "unauthenticated", "authentication required: send 'Authorization: Bearer <token>' or sign in",
            headers={"WWW-Authenticate": 'Bearer realm="gongzhi"'},
        )

    @api.exception_handler(HttpError)
    def _http_error(request, exc: HttpError):
        message = str(exc)
        code = STATUS_CODES.get(exc.status_code, "error")
        if exc.status_code == 403 and "CSRF" in message:
            code, message = "csrf_failed", "CSRF check failed: send the X-CSRFToken header with session requests"
        return error_response(exc.status_code, code, message)

    @api.exception_handler(Http404)
    def _http404(request, exc):
        return error_response(404, "not_found", "not found")

    @api.exception_handler(PermissionDenied)
    def _forbidden(request, exc):
        return error_response(403, "forbidden", "forbidden")

    @api.exception_handler(RequestDataTooBig)
    def _too_big(request, exc):
        return error_response(413, "payload_too_large", "the request body is too large")

    @api.exception_handler(SuspiciousOperation)
    def _suspicious(request, exc):
        return error_response(400, "bad_request", "the request was refused")

    @api.exception_handler(Exception)
    def _unexpected(request, exc):
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error (logged); please report it with the time of the request")


def json_errors(view):
    """Wrap a URL view: a 405 from ninja's path view and a bare 404 become the error format."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response.get("Allow", "")
            return error_response(
                405, "method_not_allowed", f"method {request.method} not allowed here (allowed: {allowed})",
                headers={"Allow": allowed},
            )
        return response

    wrapper.csrf_exempt = getattr(view, "csrf_exempt", False)
    return wrapper


def unknown_route(request, *args, **kwargs):
    """Every path under /api/ that is no route."""
    return error_response(404, "not_found", f"no API route {request.path}")


unknown_route.csrf_exempt = True
