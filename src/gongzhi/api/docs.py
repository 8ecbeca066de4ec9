"""The API docs page at /api/docs, offline.

ninja's own page loads Swagger UI from a CDN unless ``ninja`` is an installed app; bureau
intranets have no internet. This page uses the Swagger UI files that ship inside the
installed django-ninja package (``ninja/static/ninja``), served by :func:`asset` from the
package directory, plus a small start-up script of ours. Nothing is fetched from outside.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path

import ninja
from django.http import FileResponse
from django.shortcuts import render
from django.urls import reverse
from ninja.openapi.docs import DocsBase

from gongzhi.api.errors import error_response

NINJA_STATIC = Path(ninja.__file__).resolve().parent / "static" / "ninja"
OWN_ASSETS = Path(__file__).resolve().parent / "assets"
#: The only files served: name → path.
ASSETS = {
    "swagger-ui.css": NINJA_STATIC / "swagger-ui.css",
    "swagger-ui-bundle.js": NINJA_STATIC / "swagger-ui-bundle.js",
    "favicon.png": NINJA_STATIC / "favicon.png",
    "docs.js": OWN_ASSETS / "docs.js",
}


class OfflineSwagger(DocsBase):
    def render_page(self, request, api, **kwargs):
        config = {"url": self.get_openapi_url(api, kwargs), "deepLinking": True, "persistAuthorization": False}
        context = {
            "api": api,
            "config": json.dumps(config),
            "asset_base": reverse("api-docs-asset", kwargs={"name": "docs.js"}).rsplit("/", 1)[0] + "/",
        }
        return render(request, "api/docs.html", context)


def asset(request, name: str):
    path = ASSETS.get(name)
    if path is None or not path.is_file():
        return error_response(404, "not_found", f"no docs asset {name[:80]!r}")
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = FileResponse(path.open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response
