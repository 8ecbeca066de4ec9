"""URLs under /api/ (included by :mod:`gongzhi.urls`)."""

from django.http import JsonResponse
from django.urls import path, re_path, reverse
from django.urls.resolvers import URLPattern

from gongzhi.api import docs
from gongzhi.api.api import api
from gongzhi.api.errors import json_errors, unknown_route


def index(request):
    """``/api/``: where things are (no authentication needed)."""
    return JsonResponse({
        "title": api.title, "version": api.version, "v1": "/api/v1/",
        "openapi": reverse("api:openapi-json"), "docs": reverse("api:openapi-view"),
    })


def _wrapped(patterns):
    out = []
    for p in patterns:
        if isinstance(p, URLPattern):
            callback = index if p.name == "api-root" else json_errors(p.callback)
            p = URLPattern(p.pattern, callback, p.default_args, p.name)
        out.append(p)
    return out


_patterns, _app, _namespace = api.urls
urlpatterns = [
    path("", (_wrapped(_patterns), _app, _namespace)),
    path("docs/assets/<str:name>", docs.asset, name="api-docs-asset"),
    re_path(r"^.*$", unknown_route),
]
