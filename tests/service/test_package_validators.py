"""Only a published package's answers carry an ETag and `immutable`: Envoy's edge_revalidation.lua
learns what it may answer 304 from exactly these headers, so a draft, an unknown or a malformed id
must never send them, whatever If-None-Match the client sends."""

from __future__ import annotations

import uuid

import grpc
import pytest

from studysync.packages.v1 import packages_service_pb2 as pb
from tests.conftest import auth
from tests.service.test_packages import create_draft, generate, questions

VALIDATORS = ("etag", "cache-control")


@pytest.fixture
def admin(make_token):
    return auth(make_token("admin-1", roles=["admin"]))


@pytest.fixture
def reader(make_token):
    return auth(make_token("learner-1", ["kid"]))


async def answer(stub, reader, package_id: str, if_none_match: str | None) -> tuple[grpc.StatusCode, dict]:
    """The status and every header (initial and trailing metadata) of one GetTestPackage."""
    extra = () if if_none_match is None else (("if-none-match", if_none_match),)
    call = stub.GetTestPackage(pb.GetTestPackageRequest(package_id=package_id), metadata=(*reader, *extra))
    headers = dict(await call.initial_metadata())
    try:
        await call
    except grpc.aio.AioRpcError:
        pass
    headers.update(dict(await call.trailing_metadata()))
    return await call.code(), headers


async def test_only_published_packages_carry_an_etag_and_immutable(packages_stub, admin, reader):
    block = uuid.uuid4().int % 2**40
    await packages_stub.BatchCreateQuestions(
        pb.BatchCreateQuestionsRequest(questions=questions(block)), metadata=admin
    )
    published = (await generate(packages_stub, admin, block)).package
    draft = await create_draft(packages_stub, admin, {"block_id": block}, name="not yet")
    tags = [None, "*", f'"{published.version_hash}"', f'W/"{draft.version_hash}"', '"0"']

    for tag in tags:
        code, headers = await answer(packages_stub, reader, published.package_id, tag)
        assert code == grpc.StatusCode.OK
        assert headers["etag"] == f'"{published.version_hash}"'
        assert "immutable" in headers["cache-control"]
        for package_id in (draft.package_id, str(uuid.uuid4()), "not-a-uuid"):
            code, headers = await answer(packages_stub, reader, package_id, tag)
            assert code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT), (package_id, tag)
            assert not set(VALIDATORS) & set(headers), (package_id, tag, headers)
            assert "x-http-status" not in headers
