"""Test packages as a phone sees them through the real Envoy: ETag, 304, HEAD, filters, admin."""

from __future__ import annotations

import hashlib
import random
import uuid

import pytest
import rfc8785

from tests.e2e.conftest import assert_json_error
from tests.helpers import IF_NONE_MATCH_FORMS

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


CACHE_CONTROL = "private, max-age=31536000, immutable"


def get(http, bearer, package_id: str, method: str = "GET", if_none_match: str | list[str] | None = None):
    headers = list(bearer().items())
    lines = [if_none_match] if isinstance(if_none_match, str) else if_none_match or []
    headers += [("If-None-Match", line) for line in lines]  # several header lines when given a list
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


FORMS = IF_NONE_MATCH_FORMS


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_matching_if_none_match_is_304_with_no_body_and_the_same_validators(
    http, bearer, published, form, method
):
    tag = f'"{published["version_hash"]}"'
    response = get(http, bearer, published["package_id"], method, if_none_match=FORMS[form](tag))
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == tag
    assert response.headers["cache-control"] == CACHE_CONTROL
    assert "content-length" not in response.headers
    assert "x-http-status" not in response.headers


@pytest.mark.parametrize(
    "stale",
    [
        lambda h: f'"{"0" * 64}"',
        lambda h: f'W/"{"0" * 64}"',
        lambda h: f'"{h[:-1]}", "{h.upper()}"',  # near misses: a prefix, another case
        lambda h: h,  # not a quoted entity tag
    ],
    ids=["strong", "weak", "near-misses", "unquoted"],
)
def test_stale_tag_gets_the_full_package(http, bearer, published, stale):
    response = get(http, bearer, published["package_id"], if_none_match=stale(published["version_hash"]))
    assert response.status_code == 200 and response.json()["package_id"] == published["package_id"]
    assert len(response.json()["questions"]) == 4
    assert response.headers["etag"] == f'"{published["version_hash"]}"'


def test_head_has_the_headers_of_get_and_no_body(http, bearer, published):
    full = get(http, bearer, published["package_id"])
    head = get(http, bearer, published["package_id"], method="HEAD")
    assert head.status_code == 200 and head.content == b""
    for name in ("etag", "cache-control", "content-type"):
        assert head.headers[name] == full.headers[name]
    assert head.headers["content-length"] == str(len(full.content))


def test_200_304_and_head_carry_the_same_validators(http, bearer, published):
    tag = f'"{published["version_hash"]}"'
    answers = {
        "200": get(http, bearer, published["package_id"]),
        "304": get(http, bearer, published["package_id"], if_none_match=tag),
        "HEAD": get(http, bearer, published["package_id"], method="HEAD"),
        "HEAD 304": get(http, bearer, published["package_id"], method="HEAD", if_none_match=f"W/{tag}"),
    }
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {"200": 200, "304": 304, "HEAD": 200, "HEAD 304": 304}
    for response in answers.values():
        assert (response.headers["etag"], response.headers["cache-control"]) == (tag, CACHE_CONTROL)


def test_a_client_recomputes_the_etag_from_the_json_it_downloaded(http, bearer, published):
    """The rule next to the proto: SHA-256 of RFC 8785 over scope, scope_data and the questions."""
    body = get(http, bearer, published["package_id"]).json()
    content = {"scope": body["scope"], "scope_data": body["scope_data"], "questions": body["questions"]}
    digest = hashlib.sha256(rfc8785.dumps(content)).hexdigest()
    assert f'"{digest}"' == get(http, bearer, published["package_id"], method="HEAD").headers["etag"]
    assert any(q["correct_index"] == 0 for q in body["questions"])  # zeros are printed: the hash holds


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


READS = [
    ("GET", "/api/v1/tests/packages", None),
    ("GET", "/api/v1/tests/packages/{id}", None),
    ("HEAD", "/api/v1/tests/packages/{id}", None),
    ("POST", "/api/v1/tests/packages:compare", {"held": []}),
]
ADMIN = [
    ("POST", "/api/v1/admin/questions:batchCreate", {"questions": []}),
    ("POST", "/api/v1/admin/tests/packages", {"name": "x", "scope": "BLOCK", "scope_data": {"block_id": 1}}),
    ("POST", "/api/v1/admin/tests/packages/{id}:publish", {}),
    ("POST", "/api/v1/admin/tests/packages:generate", {"scope": "BLOCK", "scope_data": {"block_id": 1}}),
]


@pytest.mark.parametrize(("method", "path", "body"), READS + ADMIN)
def test_every_route_needs_a_valid_token(http, published, method, path, body):
    url = path.replace("{id}", published["package_id"])
    for headers in ({}, {"Authorization": "Bearer not.a.token"}):
        response = http.request(method, url, json=body, headers=headers)
        if method == "HEAD":
            assert response.status_code == 401 and response.content == b""
        else:
            assert_json_error(response, 401)


@pytest.mark.parametrize(("method", "path", "body"), ADMIN)
def test_admin_routes_are_403_for_other_users(http, bearer, published, method, path, body):
    url = path.replace("{id}", published["package_id"])
    forbidden = assert_json_error(http.request(method, url, json=body, headers=bearer()), 403)
    assert forbidden["details"][0]["reason"] == "ROLE_REQUIRED"


def test_unknown_and_malformed_ids_are_404_and_400(http, bearer, published):
    assert_json_error(get(http, bearer, str(uuid.uuid4())), 404)
    assert_json_error(get(http, bearer, str(uuid.uuid4()), if_none_match="*"), 404)  # `*` needs a package
    head = get(http, bearer, str(uuid.uuid4()), method="HEAD")
    assert head.status_code == 404 and head.content == b""
    bad = assert_json_error(get(http, bearer, "not-a-uuid"), 400)
    assert bad["details"][0]["metadata"]["field"] == "package_id"
    publish = http.post(
        f"/api/v1/admin/tests/packages/{uuid.uuid4()}:publish", json={}, headers=bearer(roles=["admin"])
    )
    assert_json_error(publish, 404)


def test_a_bad_import_is_400_naming_the_question_and_its_field(http, bearer):
    questions = [
        {"question_id": str(uuid.uuid4()), "stem": f"Q{n}?", "options": ["a", "b"], "correct_index": 0}
        for n in range(5)
    ]
    questions[3]["options"] = ["only one"]
    response = http.post(
        "/api/v1/admin/questions:batchCreate",
        json={"questions": questions},
        headers=bearer("admin-1", roles=["admin"]),
    )
    body = assert_json_error(response, 400)
    assert body["details"][0]["metadata"]["field"] == "questions[3].options"
    assert body["message"].startswith("questions[3].options:")


def test_a_draft_is_hidden_until_published_and_publishing_twice_is_a_no_op(http, bearer, published):
    admin = bearer("admin-1", roles=["admin"])
    ids = [q["question_id"] for q in get(http, bearer, published["package_id"]).json()["questions"]]
    scope = {"scope": "YEAR", "scope_data": {"year_id": published["scope_data"]["block_id"]}}
    missing = str(uuid.uuid4())
    unknown = http.post(
        "/api/v1/admin/tests/packages",
        json={"name": "Nerves", **scope, "question_ids": [ids[2], missing]},
        headers=admin,
    )
    body = assert_json_error(unknown, 400)
    assert missing in body["message"] and body["details"][0]["reason"] == "QUESTION_NOT_FOUND"
    created = http.post(
        "/api/v1/admin/tests/packages",
        json={"name": "Nerves", **scope, "question_ids": [ids[2], ids[0]]},
        headers=admin,
    )
    assert created.status_code == 200, created.text
    draft = created.json()
    assert draft["is_published"] is False
    assert [q["question_id"] for q in draft["questions"]] == [ids[2], ids[0]]
    assert_json_error(get(http, bearer, draft["package_id"]), 404)
    first = http.post(f"/api/v1/admin/tests/packages/{draft['package_id']}:publish", json={}, headers=admin)
    again = http.post(f"/api/v1/admin/tests/packages/{draft['package_id']}:publish", json={}, headers=admin)
    assert first.status_code == again.status_code == 200
    assert first.json()["is_published"] and first.json()["published_at"] == again.json()["published_at"]
    served = get(http, bearer, draft["package_id"])
    assert served.status_code == 200 and served.headers["etag"] == f'"{draft["version_hash"]}"'


def test_list_pages_newest_first_with_page_token(http, bearer, published):
    seen, stamps, token = [], [], None
    for _ in range(200):
        params = {"page_size": 2, "scope": "BLOCK", **({"page_token": token} if token else {})}
        page = http.get("/api/v1/tests/packages", params=params, headers=bearer())
        assert page.status_code == 200, page.text
        seen += [p["package_id"] for p in page.json()["packages"]]
        stamps += [p["published_at"] for p in page.json()["packages"]]
        token = page.json()["next_page_token"]
        if not token:
            break
    assert published["package_id"] in seen and len(seen) == len(set(seen))
    assert stamps == sorted(stamps, reverse=True)


def test_publishing_a_draft_older_than_the_published_version_is_refused(http, bearer, published):
    admin = bearer("admin-1", roles=["admin"])
    scope = {"scope": "BLOCK", "scope_data": {"block_id": published["scope_data"]["block_id"]}}
    stale = http.post("/api/v1/admin/tests/packages", json={"name": "Old", **scope}, headers=admin)
    assert stale.status_code == 200, stale.text
    regenerated = http.post(
        "/api/v1/admin/tests/packages", json={"name": "New", **scope}, headers=admin
    ).json()
    ok = http.post(
        f"/api/v1/admin/tests/packages/{regenerated['package_id']}:publish", json={}, headers=admin
    )
    assert ok.status_code == 200, ok.text
    refused = http.post(
        f"/api/v1/admin/tests/packages/{stale.json()['package_id']}:publish", json={}, headers=admin
    )
    body = assert_json_error(refused, 400)
    assert body["details"][0]["reason"] == "STALE_DRAFT"
    assert body["details"][0]["metadata"]["field"] == "package_id"
