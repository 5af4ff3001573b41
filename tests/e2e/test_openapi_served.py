"""The API reference is served by the gateway itself, with no token, exactly as generated."""

from __future__ import annotations

import json

import httpx

from gateway import openapi


def test_openapi_document_is_served_without_a_token(http: httpx.Client):
    response = http.get("/api/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.text) == json.loads(openapi.OPENAPI_OUT.read_text())


def test_the_rest_of_the_api_still_needs_a_token(http: httpx.Client):
    assert http.get("/api/openapi.json/../v1/features").status_code == 401
    assert http.get("/api/v1/features").status_code == 401


def test_the_docs_page_is_served_locally_without_a_token(http: httpx.Client):
    page = http.get("/api/docs")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "/api/docs/swagger-ui-bundle.js" in page.text and "https://" not in page.text  # no CDN
    init = http.get("/api/docs/init.js")
    assert init.status_code == 200 and "/api/openapi.json" in init.text
    bundle = http.get("/api/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and bundle.headers["content-type"].startswith("text/javascript")
    assert len(bundle.content) > 100_000
    assert http.get("/api/docs/swagger-ui.css").headers["content-type"].startswith("text/css")
