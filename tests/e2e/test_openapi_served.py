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
