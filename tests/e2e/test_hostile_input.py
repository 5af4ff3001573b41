"""Hostile input through the real Envoy is never a 5xx: a 400 naming the field, or a per-item error
while the other items of the batch are stored (each case once returned 500)."""

from __future__ import annotations

import base64
import uuid

import pytest

from services.runtime.validation import MAX_JSON_DEPTH
from tests.e2e.conftest import assert_json_error

pytestmark = pytest.mark.e2e

PROFILE = "hostile-kid"


def nested(levels: int, array: bool = False) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value] if array else {"a": value}
    return value


def item(**fields: object) -> dict:
    base = {
        "idempotency_key": uuid.uuid4().hex,
        "activity_type": "letter_trace",
        "content_id": "letter-a",
        "score": 1,
        "timestamp": "2026-01-29T10:00:00Z",
    }
    return {**base, **fields}


@pytest.fixture
def kid(bearer) -> dict:
    return bearer("hostile-user", [PROFILE, "p" * 129])


def field_of(body: dict) -> str:
    [info] = [d for d in body["details"] if d["@type"].endswith("ErrorInfo")]
    return info["metadata"]["field"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        # 33–99 levels once broke the service's protobuf parser (500 with the exception's text).
        ({"meta_data": {"x": nested(40)}}, "nested at most"),
        ({"meta_data": {"x": nested(90, array=True)}}, "nested at most"),
        ({"meta_data": {"x": nested(MAX_JSON_DEPTH)}}, "nested at most"),
        ({"meta_data": {"x": "a\u0000b"}}, "NUL"),
        ({"meta_data": {"x\u0000": 1}}, "NUL"),
        ({"timestamp": "9999-12-31T23:59:59-01:00"}, "out of range"),
        ({"timestamp": "0001-01-01T00:00:00+01:00"}, "out of range"),
    ],
    ids=["depth-40", "depth-90-arrays", "depth-limit-plus-one", "nul-value", "nul-key", "ts-max", "ts-min"],
)
def test_one_bad_item_is_a_per_item_error_and_the_others_are_stored(http, kid, bad, message):
    good, hostile, also_good = item(), item(**bad), item()
    response = http.post(
        "/api/v1/progress/batch",
        json={"profile_id": PROFILE, "items": [good, hostile, also_good]},
        headers=kid,
    )
    assert response.status_code == 200, response.text
    first, middle, last = response.json()["results"]
    assert first["status"] == last["status"] == "ok"
    assert middle["status"] == "error" and middle["error_code"] == "INVALID_FIELD"
    field = "timestamp" if "timestamp" in bad else "meta_data"
    assert middle["error"].startswith(f"{field}:") and message in middle["error"]
    receipts = http.get(
        "/api/v1/progress/receipts",
        params={
            "profile_id": PROFILE,
            "idempotency_keys": [good["idempotency_key"], hostile["idempotency_key"]],
        },
        headers=kid,
    ).json()["receipts"]
    assert [r["found"] for r in receipts] == [True, False]


def test_meta_data_at_the_depth_limit_is_stored(http, kid):
    ok = item(meta_data={"x": nested(MAX_JSON_DEPTH - 1)})
    response = http.post("/api/v1/progress/batch", json={"profile_id": PROFILE, "items": [ok]}, headers=kid)
    assert response.json()["results"][0]["status"] == "ok", response.text


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/progress/batch", {"profile_id": "p" * 129, "items": [item()]}, "profile_id"),
        ("GET", "/api/v1/progress?profile_id=" + "p" * 129, None, "profile_id"),
        (
            "GET",
            f"/api/v1/progress?profile_id={PROFILE}&page_token={_token('v1:' + str(2**63))}",
            None,
            "page_token",
        ),
        (
            "GET",
            f"/api/v1/progress?profile_id={PROFILE}&page_token={_token('v1:' + str(10**20))}",
            None,
            "page_token",
        ),
        ("GET", f"/api/v1/progress?profile_id={PROFILE}&page_token=v1:{2**63}", None, "page_token"),
        ("GET", "/api/v1/features?profile_id=%ff%fe", None, "profile_id"),
        ("GET", "/api/v1/tests/packages?scope=%ff", None, "scope"),
        (
            "GET",
            f"/api/v1/progress/receipts?profile_id={PROFILE}&idempotency_keys=%c3%28",
            None,
            "idempotency_keys",
        ),
    ],
    ids=[
        "batch-profile-129",
        "list-profile-129",
        "token-2^63",
        "token-10^20",
        "raw-token",
        "utf8-features",
        "utf8-packages",
        "utf8-receipts",
    ],
)
def test_bad_request_fields_are_400_naming_the_field(http, kid, method, path, body, field):
    response = http.request(method, path, json=body, headers=kid)
    error = assert_json_error(response, 400)
    assert field_of(error) == field, error
    assert "DecodeError" not in response.text and "Unexpected" not in response.text


@pytest.mark.parametrize("route", ["/api/v1/admin/tests/packages", "/api/v1/admin/tests/packages:generate"])
@pytest.mark.parametrize(
    ("scope_data", "message"),
    [({"block_id": 1, "x": nested(50)}, "nested at most"), ({"block_id": 1, "program": "a\u0000"}, "NUL")],
    ids=["deep", "nul"],
)
def test_admin_scope_data_deep_or_with_nul_is_400(http, bearer, route, scope_data, message):
    body = {"name": "x", "scope": "BLOCK", "scope_data": scope_data}
    response = http.post(route, json=body, headers=bearer("admin", roles=["admin"]))
    error = assert_json_error(response, 400)
    assert field_of(error) == "scope_data" and message in error["message"], error
