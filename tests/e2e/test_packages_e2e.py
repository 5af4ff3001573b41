"""Test packages as a phone sees them through the real Envoy: ETag, 304, HEAD, filters, admin."""

from __future__ import annotations

import random
import uuid

import pytest

from tests.e2e.conftest import assert_json_error

pytestmark = pytest.mark.e2e


@pytest.fixture
def published(http, bearer) -> dict:
    """A published BLOCK package made through the admin REST routes."""
    block = random.randint(10_000, 2**40)
    admin = bearer("admin-1", roles=["admin"])
    questions = [
        {
            "question_id": str(uuid.uuid4()),
            "stem": f"Which nerve supplies muscle {n}?",
            "options": ["Radial", "Ulnar", "Median"],
            "correct_index": n % 3,
            "explanation": "Anatomy.",
            "year_id": 1,
            "block_id": block,
        }
        for n in range(4)
    ]
    created = http.post("/api/v1/admin/questions:batchCreate", json={"questions": questions}, headers=admin)
    assert created.status_code == 200, created.text
    generated = http.post(
        "/api/v1/admin/tests/packages:generate",
        json={"scope": "BLOCK", "scope_data": {"block_id": block}},
        headers=admin,
    )
    assert generated.status_code == 200, generated.text
    assert generated.json()["created"] is True
    return generated.json()["package"]


def get(http, bearer, package_id: str, method: str = "GET", if_none_match: str | None = None):
    headers = bearer()
    if if_none_match is not None:
        headers["If-None-Match"] = if_none_match
    return http.request(method, f"/api/v1/tests/packages/{package_id}", headers=headers)


def test_full_package_with_strong_etag_and_immutable_cache_control(http, bearer, published):
    response = get(http, bearer, published["package_id"])
    assert response.status_code == 200
    assert response.headers["etag"] == f'"{published["version_hash"]}"'
    assert response.headers["cache-control"] == "private, max-age=31536000, immutable"
    body = response.json()
    assert body["version_hash"] == published["version_hash"] and len(body["questions"]) == 4
    assert set(body["questions"][0]) == {"question_id", "stem", "options", "correct_index", "explanation"}
    assert body["scope"] == "BLOCK" and body["is_published"] is True


@pytest.mark.parametrize("form", ["exact", "weak", "list", "star"])
def test_matching_if_none_match_is_304_with_no_body_and_the_same_validators(http, bearer, published, form):
    tag = f'"{published["version_hash"]}"'
    header = {"exact": tag, "weak": f"W/{tag}", "list": f'"{"0" * 64}", W/{tag}', "star": "*"}[form]
    response = get(http, bearer, published["package_id"], if_none_match=header)
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == tag
    assert response.headers["cache-control"] == "private, max-age=31536000, immutable"


def test_stale_tag_gets_the_full_package(http, bearer, published):
    response = get(http, bearer, published["package_id"], if_none_match=f'"{"0" * 64}"')
    assert response.status_code == 200 and response.json()["package_id"] == published["package_id"]


def test_head_has_the_headers_of_get_and_no_body(http, bearer, published):
    full = get(http, bearer, published["package_id"])
    head = get(http, bearer, published["package_id"], method="HEAD")
    assert head.status_code == 200 and head.content == b""
    for name in ("etag", "cache-control", "content-type"):
        assert head.headers[name] == full.headers[name]
    assert head.headers["content-length"] == str(len(full.content))
    not_modified = get(http, bearer, published["package_id"], method="HEAD", if_none_match="*")
    assert not_modified.status_code == 304 and not_modified.content == b""


def test_list_filters_like_the_seed_curl(http, bearer, published):
    block = published["scope_data"]["block_id"]
    response = http.get(
        "/api/v1/tests/packages", params={"scope": "BLOCK", "block_id": block}, headers=bearer()
    )
    assert response.status_code == 200
    [item] = response.json()["packages"]
    assert item["package_id"] == published["package_id"]
    assert "questions" not in item and item["question_count"] == 4
    assert set(item) >= {
        "package_id",
        "name",
        "scope",
        "scope_data",
        "version",
        "version_hash",
        "published_at",
        "updated_at",
    }


def test_compare_through_the_gateway(http, bearer, published):
    response = http.post(
        "/api/v1/tests/packages:compare",
        json={"held": [{"package_id": published["package_id"], "version_hash": published["version_hash"]}]},
        headers=bearer(),
    )
    assert response.status_code == 200
    assert response.json()["current"] == [
        {"package_id": published["package_id"], "version_hash": published["version_hash"]}
    ]


def test_errors_401_403_404_400_are_json(http, bearer, published):
    assert_json_error(http.get(f"/api/v1/tests/packages/{published['package_id']}"), 401)
    forbidden = http.post(
        "/api/v1/admin/tests/packages:generate",
        json={"scope": "BLOCK", "scope_data": {"block_id": 1}},
        headers=bearer(),
    )
    assert_json_error(forbidden, 403)
    assert_json_error(get(http, bearer, str(uuid.uuid4())), 404)
    bad = assert_json_error(get(http, bearer, "not-a-uuid"), 400)
    assert bad["details"][0]["metadata"]["field"] == "package_id"
