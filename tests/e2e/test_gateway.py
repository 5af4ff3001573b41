"""The platform through the real Envoy: health, routing, auth, limits, JSON errors, HEAD."""

from __future__ import annotations

import itertools
import re
import subprocess
import uuid

import httpx
import pytest

from devstack.stack import Stack, envoy_binary
from tests.e2e.conftest import assert_json_error
from tests.helpers import new_attempt, wait_until

pytestmark = pytest.mark.e2e


def test_healthz_is_ok_when_all_three_services_are_healthy(http):
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")


def test_rest_reaches_progress_and_writes_a_row_that_reads_back(http, bearer):
    headers = bearer(profiles=["p-e2e"])
    seed = {
        "profile_id": "p-e2e",
        "items": [
            {
                "idempotency_key": "k-e2e-1",
                "activity_type": "letter_trace",
                "content_id": "letter-a",
                "score": 0.9,
                "timestamp": "2026-01-29T10:00:00Z",
            }
        ],
    }
    response = http.post("/api/v1/progress/batch", json=seed, headers=headers)
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert set(result) == {"idempotency_key", "status", "server_id"}
    listed = http.get("/api/v1/progress", params={"profile_id": "p-e2e"}, headers=headers).json()
    assert result["server_id"] in [item["server_id"] for item in listed["items"]]


def test_rest_reaches_packages_and_sync(http, bearer):
    packages = http.get("/api/v1/tests/packages", headers=bearer())
    assert packages.status_code == 200 and "packages" in packages.json()
    sync = http.post("/api/v1/sync/attempts:batch", json={"attempts": []}, headers=bearer())
    assert sync.status_code == 400 and sync.json()["details"][0]["metadata"]["field"] == "attempts"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"],
)
def test_missing_or_bad_token_is_401_json(http, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    assert_json_error(
        http.get("/api/v1/progress", params={"profile_id": "p"}, headers=headers), 401, "UNAUTHENTICATED"
    )


def test_token_signed_with_another_key_is_401(http, tmp_path):
    from services.runtime.keys import mint_token

    foreign = mint_token(tmp_path, "user-1", ["p"])  # a different, freshly made key pair
    assert_json_error(
        http.get(
            "/api/v1/progress", params={"profile_id": "p"}, headers={"Authorization": f"Bearer {foreign}"}
        ),
        401,
    )


def test_expired_token_is_401(http, stack):
    from services.runtime.keys import mint_token

    expired = mint_token(stack.state, "user-1", ["p"], ttl_seconds=-120)
    assert_json_error(
        http.get(
            "/api/v1/progress", params={"profile_id": "p"}, headers={"Authorization": f"Bearer {expired}"}
        ),
        401,
    )


def test_body_over_the_limit_is_413_json(http, bearer):
    big = b'{"profile_id": "p", "items": [], "pad": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    response = http.post(
        "/api/v1/progress/batch",
        content=big,
        headers={**bearer(profiles=["p"]), "content-type": "application/json"},
    )
    assert_json_error(response, 413, "BODY_TOO_LARGE")


def test_unknown_route_is_404_json(http, bearer):
    assert_json_error(http.get("/api/v1/nothing-here", headers=bearer()), 404, "ROUTE_NOT_FOUND")
    assert_json_error(http.get("/not-an-api-path"), 404, "ROUTE_NOT_FOUND")


def test_malformed_json_is_400_json(http, bearer):
    response = http.post(
        "/api/v1/progress/batch",
        content=b"{not json",
        headers={**bearer(), "content-type": "application/json"},
    )
    assert_json_error(response, 400, "INVALID_REQUEST")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"profile_id": "p", "items": [{"score": "high"}]}, "items[0].score"),
        ({"profile_id": "p", "items": [{}, {"duration_seconds": "long"}]}, "items[1].duration_seconds"),
    ],
)
def test_a_wrongly_typed_field_is_400_naming_the_field(http, bearer, body, field):
    response = http.post("/api/v1/progress/batch", json=body, headers=bearer(profiles=["p"]))
    info = assert_json_error(response, 400, "INVALID_REQUEST")["details"][0]
    assert info["metadata"]["field"] == field
    assert_json_error(
        http.get(
            "/api/v1/progress", params={"profile_id": "p", "page_size": "ten"}, headers=bearer(profiles=["p"])
        ),
        400,
    )


SCOPE_NAMES = "scope: must be one of PROGRAM, YEAR, BLOCK, THEME"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/tests/packages?scope=program", None),
        ("GET", "/api/v1/tests/packages?scope=LESSON", None),
        ("POST", "/api/v1/tests/packages:compare", {"held": [], "scope": "block"}),
        ("POST", "/api/v1/admin/tests/packages", {"name": "x", "scope": "", "scope_data": {"block_id": 1}}),
        ("POST", "/api/v1/admin/tests/packages:generate", {"scope": "Theme", "scope_data": {"theme_id": 1}}),
        ("POST", "/api/v1/admin/tests/packages:generate", {"scope_data": {"theme_id": 1}}),
    ],
    ids=["list-lowercase", "list-unknown", "compare-lowercase", "create-empty", "generate-mixed", "absent"],
)
def test_a_scope_outside_the_closed_set_is_400_invalid_field_listing_the_names(
    http, bearer, method, path, body
):
    """An enum name Scope lacks is refused by the transcoder, an absent scope by the service: the
    same answer either way (the Lua filter maps the transcoder's, gateway/http_status.lua)."""
    response = http.request(method, path, json=body, headers=bearer("admin", roles=["admin"]))
    error = assert_json_error(response, 400, "INVALID_FIELD")
    assert error["code"] == 3 and error["message"] == SCOPE_NAMES, error
    assert error["details"][0]["metadata"]["field"] == "scope"


def test_scope_names_are_accepted_and_answered_as_strings(http, bearer):
    listed = http.get("/api/v1/tests/packages", params={"scope": "BLOCK"}, headers=bearer())
    assert listed.status_code == 200, listed.text
    assert {p["scope"] for p in listed.json()["packages"]} <= {"BLOCK"}
    compared = http.post(
        "/api/v1/tests/packages:compare", json={"held": [], "scope": "YEAR"}, headers=bearer()
    )
    assert compared.status_code == 200, compared.text
    assert {p["scope"] for p in compared.json()["new_packages"]} <= {"YEAR"}


@pytest.mark.parametrize("query", ["scope=", "scope", "page_size=2&scope=", "scope=&page_size=2"])
def test_an_empty_scope_in_the_query_lists_every_scope(http, bearer, query):
    """`?scope=` is proto3's default (no filter), as it was before Scope became an enum."""
    everything = http.get("/api/v1/tests/packages?page_size=2", headers=bearer())
    response = http.get(f"/api/v1/tests/packages?{query}", headers=bearer())
    assert response.status_code == 200, response.text
    if "page_size" in query:
        assert response.json() == everything.json()


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
def test_a_body_that_is_not_json_is_415(http, bearer, content_type):
    headers = {**bearer(profiles=["p"]), **({"content-type": content_type} if content_type else {})}
    body = b'{"profile_id": "p", "items": [{"idempotency_key": "k"}]}'
    response = http.post("/api/v1/progress/batch", content=body, headers=headers)
    if content_type is None:
        assert "content-type" not in response.request.headers
    info = assert_json_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")["details"][0]
    assert "application/json" in assert_json_error(response, 415)["message"]
    assert info["metadata"]["request_id"]


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8"])
def test_json_bodies_with_any_parameters_and_case_are_accepted(http, bearer, content_type):
    body = b'{"profile_id": "p", "items": []}'
    response = http.post(
        "/api/v1/progress/batch",
        content=body,
        headers={**bearer(profiles=["p"]), "content-type": content_type},
    )
    assert_json_error(response, 400, "INVALID_FIELD")  # reached the service: it names the empty list


def test_service_errors_are_json_with_error_info(http, bearer):
    body = assert_json_error(
        http.get("/api/v1/progress", params={"profile_id": "theirs"}, headers=bearer()), 403
    )
    [info] = body["details"]
    assert info["reason"] == "PERMISSION_DENIED"
    assert info["metadata"]["field"] == "profile_id"


def test_head_answers_carry_no_body(http, bearer):
    response = http.head("/api/v1/tests/packages/00000000-0000-0000-0000-000000000000", headers=bearer())
    get = http.get("/api/v1/tests/packages/00000000-0000-0000-0000-000000000000", headers=bearer())
    assert response.status_code == get.status_code
    assert response.content == b""
    assert get.content != b""


def test_rate_limit_is_429_json(tmp_path):
    limited = Stack.on_free_ports(
        tmp_path, gateway={"rate_limit_tokens": 3, "rate_limit_fill_seconds": 3600}, log_dir=tmp_path / "logs"
    )
    limited.start()
    try:
        with httpx.Client(base_url=limited.http_url) as client:
            headers = {"Authorization": f"Bearer {limited.token('u', ['p'])}"}
            statuses = [
                client.get("/api/v1/features", params={"profile_id": "p"}, headers=headers) for _ in range(6)
            ]
        assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
        body = assert_json_error(statuses[-1], 429, "RATE_LIMITED")
        assert statuses[-1].headers["retry-after"] == "3600", body
    finally:
        limited.stop()


def test_graceful_shutdown_reports_not_serving_and_exits_cleanly(tmp_path):
    stack = Stack.on_free_ports(tmp_path, log_dir=tmp_path / "logs")
    stack.start()
    try:
        with httpx.Client(base_url=stack.http_url) as client:
            assert client.get("/healthz").status_code == 200
            # SIGTERM → NOT_SERVING → stop with grace → exit 0 on its own (not killed after the wait)
            assert stack.stop_service("sync", timeout=60) == 0
            wait_until(lambda: client.get("/healthz").status_code == 503, what="/healthz to say 503")
            assert_json_error(client.get("/healthz"), 503, "NOT_ALL_SERVICES_HEALTHY")
            stack.start_service("sync")
            wait_until(lambda: client.get("/healthz").status_code == 200, what="/healthz to be 200 again")
    finally:
        stack.stop()
    log = (tmp_path / "logs" / "sync.log").read_text()
    assert "shutting down" in log


def test_envoy_starts_without_a_warning(stack):
    """A deprecated field or a missing bound (open client connections) is a warning at start-up:
    the gateway's config has none. Start-up is what Envoy prints before its first access-log line."""
    lines = (stack.log_dir / "envoy.log").read_text(errors="replace").splitlines()
    start_up = list(itertools.takewhile(lambda line: not line.startswith("{"), lines))
    assert [line for line in start_up if re.search(r"\]\[(warning|error|critical)\]\[", line)] == []
    assert len(start_up) < len(lines)  # the access log has begun: start-up is over


def test_rendered_config_passes_envoy_validate(stack, tmp_path):
    from gateway.render import render

    config = tmp_path / "envoy.yaml"
    config.write_text(render(stack.gateway_config()))
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[warning]" not in result.stdout + result.stderr  # e.g. a deprecated field
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        config.read_text().replace("studysync.sync.v1.SyncService", "studysync.sync.v1.NoSuchService")
    )
    assert (
        subprocess.run(
            [envoy_binary(), "--mode", "validate", "-c", str(broken)], capture_output=True, timeout=60
        ).returncode
        != 0
    )


def test_client_connections_beyond_the_bound_are_refused_and_admitted_again_once_one_closes(tmp_path):
    stack = Stack.on_free_ports(
        tmp_path, log_dir=tmp_path / "logs", gateway={"max_downstream_connections": 3}
    )
    stack.start()
    try:
        open_clients = [httpx.Client(base_url=stack.http_url, timeout=5) for _ in range(3)]
        for client in open_clients:  # each keeps its connection open
            assert client.get("/healthz").status_code == 200
        with pytest.raises(httpx.TransportError), httpx.Client(base_url=stack.http_url, timeout=5) as extra:
            extra.get("/healthz")
        open_clients.pop().close()

        def admitted() -> bool:
            try:
                with httpx.Client(base_url=stack.http_url, timeout=5) as again:
                    return again.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(admitted, within=10, what="a connection admitted after one closed")
        for client in open_clients:
            client.close()
    finally:
        stack.stop()


def test_services_scale_out_behind_envoy(tmp_path):
    """No state that matters lives in a process: two progress replicas share one cluster."""
    stack = Stack.on_free_ports(tmp_path, log_dir=tmp_path / "logs", replicas={"progress": 2})
    stack.start()
    try:
        headers = {"Authorization": f"Bearer {stack.token('u', ['p'])}"}
        with httpx.Client(base_url=stack.http_url, headers=headers) as client:
            for n in range(20):
                item = {
                    "idempotency_key": f"k{n % 5}",
                    "activity_type": "a",
                    "content_id": "c",
                    "score": 1,
                    "timestamp": "2026-01-29T10:00:00Z",
                }
                assert (
                    client.post(
                        "/api/v1/progress/batch", json={"profile_id": "p", "items": [item]}
                    ).status_code
                    == 200
                )
            listed = client.get("/api/v1/progress", params={"profile_id": "p"}).json()["items"]
        assert sorted(i["idempotency_key"] for i in listed) == [f"k{n}" for n in range(5)]
    finally:
        stack.stop()
    served = [
        (tmp_path / "logs" / f"{name}.log").read_text().count("BatchRecordProgress")
        for name in ("progress", "progress-2")
    ]
    assert all(count > 0 for count in served), served


def test_sync_spreads_its_question_lookups_over_packages_replicas(tmp_path):
    """Sync's channel to packages round-robins over every packages process, and Envoy balances the
    REST traffic over two sync replicas."""
    stack = Stack.on_free_ports(tmp_path, log_dir=tmp_path / "logs", replicas={"packages": 2, "sync": 2})
    stack.start()
    try:
        question = str(uuid.uuid4())
        with httpx.Client(base_url=stack.http_url) as client:
            created = client.post(
                "/api/v1/admin/questions:batchCreate",
                json={
                    "questions": [
                        {
                            "question_id": question,
                            "stem": "Q?",
                            "options": ["a", "b"],
                            "correct_index": 1,
                            "explanation": "",
                        }
                    ]
                },
                headers={"Authorization": f"Bearer {stack.token('admin', roles=['admin'])}"},
            )
            assert created.status_code == 200, created.text
            headers = {"Authorization": f"Bearer {stack.token('learner')}"}
            for _ in range(12):
                body = {"attempts": [new_attempt(question)]}
                response = client.post("/api/v1/sync/attempts:batch", json=body, headers=headers)
                assert response.json()["results"][0]["status"] == "acked", response.text
    finally:
        stack.stop()
    logs = {name: (tmp_path / "logs" / f"{name}.log").read_text() for name in stack.grpc_ports}
    assert all(logs[name].count("BatchGetQuestions") > 0 for name in ("packages", "packages-2")), logs
    assert all(logs[name].count("BatchSyncAttempts") > 0 for name in ("sync", "sync-2")), logs


@pytest.mark.parametrize("method", ["QUERY", "PROPFIND"])
def test_a_method_http_does_not_define_is_405_in_the_json_error_shape(http, bearer, method):
    """Found by schemathesis: QUERY was a 400 with an empty message and `request_id: null`."""
    response = http.request(method, "/api/v1/features", params={"profile_id": "kid-1"}, headers=bearer())
    body = assert_json_error(response, 405)
    assert "method is not allowed" in body["message"]
    assert body["details"][0]["reason"] == "METHOD_NOT_ALLOWED"
    assert None not in body["details"][0].get("metadata", {}).values()
