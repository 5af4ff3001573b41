"""Internal RPCs (no HTTP binding in the protos) are closed at the edge and need a service identity
inside the mesh; sync's own use of them keeps working, and a draft package is never scored."""

from __future__ import annotations

import uuid

import grpc
import pytest

from devstack.registry import SPECS
from services.runtime import visibility
from tests.helpers import error_info, new_attempt

pytestmark = pytest.mark.e2e

INTERNAL = sorted((spec.name, path) for spec in SPECS for path in visibility.internal_paths(spec.full_name))


def test_the_protos_mark_batch_get_questions_internal():
    assert ("packages", "/studysync.packages.v1.PackagesService/BatchGetQuestions") in INTERNAL
    assert "/studysync.packages.v1.PackagesService/ListTestPackages" in visibility.public_paths(
        "studysync.packages.v1.PackagesService"
    )


def _call(target: str, path: str, token: str) -> grpc.RpcError:
    """The method called with an empty request (every field optional on the wire); the refusal."""
    with grpc.insecure_channel(target) as channel:
        method = channel.unary_unary(path, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.RpcError) as caught:
            method(b"", metadata=(("authorization", f"Bearer {token}"),), timeout=10)
    return caught.value


@pytest.mark.parametrize(("service", "path"), INTERNAL)
@pytest.mark.parametrize("roles", [[], ["learner"]], ids=["learner", "other-role"])
def test_internal_rpcs_are_refused_through_envoy_and_directly_with_a_user_token(stack, service, path, roles):
    token = stack.token("learner-1", ["kid-1"], roles)
    through_envoy = _call(f"127.0.0.1:{stack.http_port}", path, token)
    assert through_envoy.code() == grpc.StatusCode.UNIMPLEMENTED  # no route: Envoy's 404
    direct = _call(stack.grpc_target(service), path, token)
    assert direct.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(direct).reason == "INTERNAL_METHOD"


@pytest.mark.parametrize(("service", "path"), INTERNAL)
def test_internal_rpcs_are_closed_at_the_edge_even_for_a_service_token(stack, service, path):
    through_envoy = _call(f"127.0.0.1:{stack.http_port}", path, stack.token("service:sync", [], ["service"]))
    assert through_envoy.code() == grpc.StatusCode.UNIMPLEMENTED


def _admin_post(http, bearer, path: str, body: dict) -> dict:
    response = http.post(path, json=body, headers=bearer("admin", roles=["admin"]))
    assert response.status_code == 200, response.text
    return response.json()


def _attempt(question_id: str, package_id: str | None) -> dict:
    attempt = new_attempt(question_id)
    return {**attempt, "package_id": package_id} if package_id else attempt


def test_sync_scores_with_its_own_identity_and_rejects_attempts_on_a_draft_package(http, bearer):
    block = uuid.uuid4().int % 2**40 + 10_000
    question = {
        "question_id": str(uuid.uuid4()),
        "stem": "Two plus two?",
        "options": ["3", "4", "5"],
        "correct_index": 1,
        "year_id": 1,
        "block_id": block,
    }
    _admin_post(http, bearer, "/api/v1/admin/questions:batchCreate", {"questions": [question]})
    draft = _admin_post(
        http,
        bearer,
        "/api/v1/admin/tests/packages",
        {"name": "Draft", "scope": "BLOCK", "scope_data": {"block_id": block}},
    )
    published = _admin_post(
        http,
        bearer,
        "/api/v1/admin/tests/packages:generate",
        {"scope": "BLOCK", "scope_data": {"block_id": block}},
    )["package"]
    qid = question["question_id"]
    body = {
        "attempts": [
            _attempt(qid, None),  # the bank
            _attempt(qid, published["package_id"]),
            _attempt(qid, draft["package_id"]),
        ]
    }
    response = http.post(
        "/api/v1/sync/attempts:batch", json=body, headers=bearer(f"u-{uuid.uuid4().hex[:8]}")
    )
    assert response.status_code == 200, response.text
    bank, from_package, from_draft = response.json()["results"]
    assert bank["status"] == from_package["status"] == "acked"
    assert from_draft["status"] == "rejected"
    assert from_draft["error_code"] == "PACKAGE_NOT_PUBLISHED"
    assert "package_id" in from_draft["error_message"]
