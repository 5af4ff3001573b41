"""The progress contract as a browser or phone sees it: JSON through the real Envoy."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import DENIED_PROFILE, assert_json_error

pytestmark = pytest.mark.e2e


@pytest.fixture
def profile() -> str:
    return f"kid-{uuid.uuid4().hex[:10]}"


def seed_item(key: str, **overrides: object) -> dict:
    item = {
        "idempotency_key": key,
        "activity_type": "letter_trace",
        "content_id": "letter-a",
        "score": 0.8,
        "duration_seconds": 42,
        "meta_data": {"attempts": 2, "hint_used": False},
        "timestamp": "2026-01-29T10:00:00Z",
    }
    item.update(overrides)
    return item


def test_seed_request_verbatim_then_retry_is_ok_then_duplicate(http, bearer, profile):
    headers = bearer(profiles=[profile])
    body = {"profile_id": profile, "items": [seed_item("k-1"), seed_item("k-2", score=0)]}
    first = http.post("/api/v1/progress/batch", json=body, headers=headers)
    assert first.status_code == 200
    results = first.json()["results"]
    assert [(r["idempotency_key"], r["status"]) for r in results] == [("k-1", "ok"), ("k-2", "ok")]
    assert all(set(r) == {"idempotency_key", "status", "server_id"} for r in results)  # no `error` key

    again = http.post("/api/v1/progress/batch", json=body, headers={**headers, "x-client-retry": "1"})
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert [r["server_id"] for r in again.json()["results"]] == [r["server_id"] for r in results]


def test_bad_items_come_back_as_error_with_the_field_and_no_server_id(http, bearer, profile):
    body = {
        "profile_id": profile,
        "items": [
            seed_item("ok-1"),
            seed_item("bad-ts", timestamp="29/01/2026"),
            seed_item("bad-meta", meta_data=[1, 2]),
            seed_item("bad-score", score="NaN"),
        ],
    }
    results = http.post("/api/v1/progress/batch", json=body, headers=bearer(profiles=[profile])).json()[
        "results"
    ]
    assert results[0]["status"] == "ok"
    for result, field in zip(results[1:], ["timestamp", "meta_data", "score"], strict=True):
        assert result["status"] == "error"
        assert result["error"].startswith(field)
        assert result["error_code"] == "INVALID_FIELD"
        assert "server_id" not in result


def test_key_reused_for_other_content_is_an_error(http, bearer, profile):
    headers = bearer(profiles=[profile])
    http.post(
        "/api/v1/progress/batch", json={"profile_id": profile, "items": [seed_item("k")]}, headers=headers
    )
    reused = http.post(
        "/api/v1/progress/batch",
        json={"profile_id": profile, "items": [seed_item("k", score=1)]},
        headers=headers,
    ).json()["results"][0]
    assert (reused["status"], reused["error_code"]) == ("error", "IDEMPOTENCY_KEY_REUSED")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"idempotency_key": "k"}]}, "profile_id"),
        ({"profile_id": "PROFILE", "items": []}, "items"),
        ({"profile_id": "PROFILE", "items": [seed_item(f"k-{n}") for n in range(501)]}, "items"),
    ],
)
def test_bad_batches_are_400_naming_the_field(http, bearer, profile, body, field):
    body = {k: (profile if v == "PROFILE" else v) for k, v in body.items()}
    response = http.post("/api/v1/progress/batch", json=body, headers=bearer(profiles=[profile]))
    error = assert_json_error(response, 400)
    assert error["message"].startswith(field)
    assert error["details"][0]["metadata"]["field"] == field


def test_another_profile_is_403(http, bearer, profile):
    response = http.post(
        "/api/v1/progress/batch",
        json={"profile_id": "someone-else", "items": [seed_item("k")]},
        headers=bearer(profiles=[profile]),
    )
    assert_json_error(response, 403)


def test_read_back_and_receipts_through_the_gateway(http, bearer, profile):
    headers = bearer(profiles=[profile])
    stored = http.post(
        "/api/v1/progress/batch",
        json={"profile_id": profile, "items": [seed_item("a"), seed_item("b")]},
        headers=headers,
    ).json()["results"]
    page = http.get(
        "/api/v1/progress", params={"profile_id": profile, "page_size": 1}, headers=headers
    ).json()
    assert [i["idempotency_key"] for i in page["items"]] == ["a"]
    assert page["items"][0]["meta_data"] == {"attempts": 2, "hint_used": False}
    assert page["items"][0]["timestamp"] == "2026-01-29T10:00:00Z"
    rest = http.get(
        "/api/v1/progress",
        params={"profile_id": profile, "page_token": page["next_page_token"]},
        headers=headers,
    ).json()
    assert [i["idempotency_key"] for i in rest["items"]] == ["b"]
    assert rest["next_page_token"] == "" and rest["resume_token"]  # AIP-158: the list ended
    receipts = http.get(
        "/api/v1/progress/receipts",
        params=[("profile_id", profile), ("idempotency_keys", "b"), ("idempotency_keys", "zzz")],
        headers=headers,
    ).json()["receipts"]
    assert receipts == [
        {"idempotency_key": "b", "found": True, "server_id": stored[1]["server_id"]},
        {"idempotency_key": "zzz", "found": False},
    ]


def test_feature_flag_prints_true_and_false(http, bearer, profile):
    on = http.get("/api/v1/features", params={"profile_id": profile}, headers=bearer(profiles=[profile]))
    off = http.get(
        "/api/v1/features", params={"profile_id": DENIED_PROFILE}, headers=bearer(profiles=[DENIED_PROFILE])
    )
    assert on.json() == {"offline_progress": True}
    assert off.json() == {"offline_progress": False}
