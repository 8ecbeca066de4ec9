"""One error format on every error path (unknown routes, wrong methods, validation, 500s);
the OpenAPI document and the offline docs page."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from api_helpers import assert_error
from gongzhi.api import docs


@pytest.mark.parametrize("path", ["/api/nope", "/api/v1/nope", "/api/v2/sites", "/api/v1/", "/api/v1/sites/W1/nope", "/api/docs/assets/x.js"])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_routes_are_404_in_the_error_format(world, path, method):
    r = getattr(Client(), method)(path, headers={"Authorization": f"Bearer {world['tokens']['qp_monitor']}"})
    assert_error(r, 404, "not_found")


@pytest.mark.parametrize(
    "method, path, allowed",
    [("delete", "/api/v1/sites", "GET"), ("put", "/api/v1/sites/W1", "GET"), ("patch", "/api/v1/push/observations", "POST")],
)
def test_wrong_method_is_405_in_the_error_format(world, method, path, allowed):
    r = getattr(Client(), method)(path)
    assert_error(r, 405, "method_not_allowed")
    assert r["Allow"] == allowed


def test_validation_errors_carry_details(world, api):
    err = assert_error(api("qp_monitor").get("/api/v1/sites", {"limit": "x", "kind": "lake"}), 400, "invalid_request")
    locs = sorted(tuple(d["loc"]) for d in err["details"])
    assert locs == [("query", "kind"), ("query", "limit")]
    assert all(d["message"] and d["type"] for d in err["details"])


def test_unexpected_exceptions_are_500_in_the_error_format(world, api, monkeypatch, caplog):
    from gongzhi.api import parameters

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(parameters.policy, "visible", boom)
    r = api("qp_monitor").get("/api/v1/parameters")
    assert_error(r, 500, "internal_error")
    assert b"secret internals" not in r.content and b"Traceback" not in r.content
    assert any("secret internals" in rec.getMessage() or rec.exc_info for rec in caplog.records)


def test_index(world):
    body = Client().get("/api/").json()
    assert body["openapi"] == "/api/openapi.json" and body["docs"] == "/api/docs" and body["version"] == "1"


def test_openapi_document(world):
    r = Client().get("/api/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["info"]["title"] == "gongzhi API" and spec["info"]["version"] == "1"
    paths = set(spec["paths"])
    for p in ("/api/v1/sites", "/api/v1/sites/{code}", "/api/v1/parameters", "/api/v1/sites/{code}/latest", "/api/v1/latest",
              "/api/v1/sites/{code}/observations", "/api/v1/joint-zones", "/api/v1/joint-zones/{code}",
              "/api/v1/sites/{code}/water-class", "/api/v1/push/observations"):
        assert p in paths, p
    push = spec["paths"]["/api/v1/push/observations"]["post"]
    assert push["requestBody"]["content"]["application/json"]["schema"]["required"] == ["records"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in push["parameters"])
    assert set(push["responses"]) >= {"200", "400", "401", "403", "413", "422"}
    schemes = spec["components"]["securitySchemes"]
    assert {s["scheme"] for s in schemes.values() if s["type"] == "http"} == {"bearer"}


def test_docs_page_is_offline(world):
    c = Client()
    r = c.get("/api/docs")
    assert r.status_code == 200
    html = r.content.decode()
    assert not re.search(r"https?://", html), "the docs page must not load anything from outside"
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(urls) == 4
    for url in urls:
        a = c.get(url)
        assert a.status_code == 200, url
        body = b"".join(a.streaming_content)
        assert len(body) > 100
        if url.endswith(".js"):
            assert a["Content-Type"].endswith("javascript")
    config = json.loads(re.search(r'id="gongzhi-docs-config">(.*?)</script>', html).group(1))
    assert config["url"] == "/api/openapi.json"


def test_docs_assets_come_from_the_installed_package():
    assert docs.ASSETS["swagger-ui-bundle.js"].is_file() and "ninja" in docs.ASSETS["swagger-ui-bundle.js"].parts
    assert not re.search(rb"https?://[^\s\"']*(cdn|unpkg|jsdelivr)", docs.ASSETS["docs.js"].read_bytes())
