"""The packages service over real gRPC, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import uuid

import grpc
import pytest
from google.protobuf import struct_pb2
from sqlalchemy import text

from studysync.packages.v1 import packages_service_pb2 as pb
from studysync.packages.v1 import resources_pb2 as res
from tests.conftest import auth
from tests.helpers import error_info


def struct(data: dict) -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    value.update(data)
    return value


def questions(block_id: int, count: int = 3, year_id: int = 1) -> list[res.Question]:
    return [
        res.Question(
            question_id=str(uuid.uuid4()),
            stem=f"Question {n} of block {block_id}?",
            options=["alpha", "beta", "gamma"],
            correct_index=n % 3,
            explanation="Because.",
            year_id=year_id,
            block_id=block_id,
            theme_id=block_id * 10 + n % 2,
        )
        for n in range(count)
    ]


@pytest.fixture
def block() -> int:
    return random.randint(10_000, 2**40)


@pytest.fixture
def admin(make_token):
    return auth(make_token("admin-1", roles=["admin"]))


@pytest.fixture
def reader(make_token):
    return auth(make_token("learner-1", ["kid"]))


@pytest.fixture
def bank(packages_stub, admin, block):
    async def load(count: int = 3) -> list[res.Question]:
        batch = questions(block, count)
        await packages_stub.BatchCreateQuestions(
            pb.BatchCreateQuestionsRequest(questions=batch), metadata=admin
        )
        return batch

    return load


async def generate(stub, admin, block: int) -> pb.GenerateTestPackageResponse:
    return await stub.GenerateTestPackage(
        pb.GenerateTestPackageRequest(scope="BLOCK", scope_data=struct({"block_id": block})), metadata=admin
    )


async def test_generate_builds_and_publishes_a_version_only_when_content_changed(
    packages_stub, admin, bank, block
):
    loaded = await bank()
    first = await generate(packages_stub, admin, block)
    assert first.created and first.package.is_published and first.package.version == 1
    assert first.package.question_count == 3 and len(first.package.version_hash) == 64
    same = await generate(packages_stub, admin, block)
    assert not same.created and same.package.package_id == first.package.package_id
    edited = loaded[0]
    edited.stem = "An edited stem?"
    await packages_stub.BatchCreateQuestions(
        pb.BatchCreateQuestionsRequest(questions=[edited]), metadata=admin
    )
    second = await generate(packages_stub, admin, block)
    assert second.created and second.package.version == 2
    assert second.package.version_hash != first.package.version_hash
    old = await packages_stub.GetTestPackage(
        pb.GetTestPackageRequest(package_id=first.package.package_id), metadata=admin
    )
    assert [q.stem for q in old.questions] == [q.stem for q in first.package.questions]  # frozen snapshot


async def test_concurrent_generate_makes_one_version(packages_stub, admin, bank, block):
    await bank()
    results = await asyncio.gather(*(generate(packages_stub, admin, block) for _ in range(10)))
    assert sum(r.created for r in results) == 1
    assert len({r.package.package_id for r in results}) == 1
    assert {r.package.version for r in results} == {1}


async def test_draft_from_question_ids_then_publish_is_frozen_and_publishing_again_is_a_no_op(
    packages_stub, admin, reader, bank, block
):
    loaded = await bank()
    draft = await packages_stub.CreateTestPackage(
        pb.CreateTestPackageRequest(
            name="Cardiac cycle",
            scope="BLOCK",
            scope_data=struct({"block_id": block}),
            question_ids=[loaded[2].question_id, loaded[0].question_id],
        ),
        metadata=admin,
    )
    assert not draft.is_published and [q.question_id for q in draft.questions] == [
        loaded[2].question_id,
        loaded[0].question_id,
    ]
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # drafts are not served
        await packages_stub.GetTestPackage(
            pb.GetTestPackageRequest(package_id=draft.package_id), metadata=reader
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    published = await packages_stub.PublishTestPackage(
        pb.PublishTestPackageRequest(package_id=draft.package_id), metadata=admin
    )
    again = await packages_stub.PublishTestPackage(
        pb.PublishTestPackageRequest(package_id=draft.package_id), metadata=admin
    )
    assert published.is_published and again.published_at == published.published_at
    assert again.version_hash == draft.version_hash


async def test_the_database_refuses_to_change_a_published_package(
    packages_server, packages_stub, admin, bank, block
):
    await bank()
    package = (await generate(packages_stub, admin, block)).package
    engine = packages_server.service.runtime.engine
    with pytest.raises(Exception, match="PACKAGE_IMMUTABLE"):
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE test_packages SET name = 'changed' WHERE version_hash = :h"),
                {"h": package.version_hash},
            )
    fetched = await packages_stub.GetTestPackage(
        pb.GetTestPackageRequest(package_id=package.package_id), metadata=admin
    )
    assert fetched.name == package.name


async def test_conditional_get_sends_the_etag_and_304_metadata(packages_stub, admin, reader, bank, block):
    await bank()
    package = (await generate(packages_stub, admin, block)).package
    call = packages_stub.GetTestPackage(
        pb.GetTestPackageRequest(package_id=package.package_id), metadata=reader
    )
    assert dict(await call.initial_metadata())["etag"] == f'"{package.version_hash}"'
    assert (await call).question_count == 3
    call = packages_stub.GetTestPackage(
        pb.GetTestPackageRequest(package_id=package.package_id),
        metadata=(*reader, ("if-none-match", f'W/"{package.version_hash}"')),
    )
    metadata = dict(await call.initial_metadata())
    assert metadata["x-http-status"] == "304"
    assert (await call).ByteSize() == 0


async def test_list_filters_by_scope_ids_and_pages_newest_first(packages_stub, admin, reader, block):
    for offset in range(3):
        batch = questions(block + offset, 2, year_id=block)
        await packages_stub.BatchCreateQuestions(
            pb.BatchCreateQuestionsRequest(questions=batch), metadata=admin
        )
        await generate(packages_stub, admin, block + offset)
    only = await packages_stub.ListTestPackages(
        pb.ListTestPackagesRequest(scope="BLOCK", block_id=block + 1), metadata=reader
    )
    assert [p.scope_data["block_id"] for p in only.packages] == [block + 1]
    seen, token = [], ""
    while True:
        page = await packages_stub.ListTestPackages(
            pb.ListTestPackagesRequest(page_size=1, page_token=token, scope="BLOCK"), metadata=reader
        )
        seen += [p.package_id for p in page.packages]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen))  # no package repeated across pages
    ours = await packages_stub.ListTestPackages(pb.ListTestPackagesRequest(year_id=block), metadata=reader)
    assert ours.packages == []  # year_id filters scope_data, and these packages are scoped by block only
    for offset in range(3):
        listed = await packages_stub.ListTestPackages(
            pb.ListTestPackagesRequest(block_id=block + offset), metadata=reader
        )
        assert len(listed.packages) == 1 and listed.packages[0].package_id in seen
        assert listed.packages[0].question_count == 2 and listed.packages[0].HasField("published_at")


async def test_compare_tells_current_stale_gone_and_new(packages_stub, admin, reader, bank, block):
    loaded = await bank()
    v1 = (await generate(packages_stub, admin, block)).package
    loaded[0].stem = "Changed?"
    await packages_stub.BatchCreateQuestions(
        pb.BatchCreateQuestionsRequest(questions=[loaded[0]]), metadata=admin
    )
    v2 = (await generate(packages_stub, admin, block)).package
    other = questions(block + 1, 1)
    await packages_stub.BatchCreateQuestions(pb.BatchCreateQuestionsRequest(questions=other), metadata=admin)
    fresh = (await generate(packages_stub, admin, block + 1)).package
    unknown = str(uuid.uuid4())
    result = await packages_stub.CompareTestPackages(
        pb.CompareTestPackagesRequest(
            held=[
                res.HeldPackage(package_id=v1.package_id, version_hash=v1.version_hash),
                res.HeldPackage(package_id=v2.package_id, version_hash=v2.version_hash),
                res.HeldPackage(package_id=unknown, version_hash="0" * 64),
                res.HeldPackage(package_id=v2.package_id, version_hash="f" * 64),
            ],
            scope="BLOCK",
        ),
        metadata=reader,
    )
    assert [h.package_id for h in result.current] == [v2.package_id]
    assert [(s.package_id, s.latest.package_id) for s in result.stale] == [(v1.package_id, v2.package_id)]
    assert [h.package_id for h in result.gone] == [unknown, v2.package_id]
    new_ids = {p.package_id for p in result.new_packages}
    assert fresh.package_id in new_ids and v2.package_id not in new_ids


async def test_batch_get_questions_by_ids_and_by_package_snapshot(packages_stub, admin, reader, bank, block):
    loaded = await bank()
    package = (await generate(packages_stub, admin, block)).package
    ids = [loaded[1].question_id, str(uuid.uuid4()), loaded[0].question_id]
    by_id = await packages_stub.BatchGetQuestions(
        pb.BatchGetQuestionsRequest(question_ids=ids), metadata=reader
    )
    assert [q.question_id for q in by_id.questions] == [loaded[1].question_id, loaded[0].question_id]
    assert (
        by_id.questions[0].correct_index == loaded[1].correct_index and by_id.questions[0].block_id == block
    )
    loaded[1].correct_index = (loaded[1].correct_index + 1) % 3  # the bank changes; the snapshot does not
    await packages_stub.BatchCreateQuestions(
        pb.BatchCreateQuestionsRequest(questions=[loaded[1]]), metadata=admin
    )
    snap = await packages_stub.BatchGetQuestions(
        pb.BatchGetQuestionsRequest(package_id=package.package_id), metadata=reader
    )
    frozen = {q.question_id: q.correct_index for q in package.questions}
    assert {q.question_id: q.correct_index for q in snap.questions} == frozen
    assert all(q.block_id == block for q in snap.questions)


@pytest.mark.parametrize(
    ("rpc", "request_", "field"),
    [
        ("GetTestPackage", pb.GetTestPackageRequest(package_id="not-a-uuid"), "package_id"),
        ("ListTestPackages", pb.ListTestPackagesRequest(scope="LESSON"), "scope"),
        ("ListTestPackages", pb.ListTestPackagesRequest(page_token="???"), "page_token"),
        ("BatchGetQuestions", pb.BatchGetQuestionsRequest(), "question_ids"),
        ("BatchGetQuestions", pb.BatchGetQuestionsRequest(question_ids=["x"]), "question_ids[0]"),
        (
            "CompareTestPackages",
            pb.CompareTestPackagesRequest(held=[res.HeldPackage(package_id="x")]),
            "held[0].package_id",
        ),
    ],
)
async def test_bad_reads_are_invalid_argument_naming_the_field(packages_stub, reader, rpc, request_, field):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await getattr(packages_stub, rpc)(request_, metadata=reader)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(caught.value).metadata["field"] == field


async def test_unknown_package_is_not_found(packages_stub, reader):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await packages_stub.GetTestPackage(
            pb.GetTestPackageRequest(package_id=str(uuid.uuid4())), metadata=reader
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.BatchCreateQuestionsRequest(), "questions"),
        (
            pb.BatchCreateQuestionsRequest(
                questions=[
                    res.Question(question_id=str(uuid.uuid4()), stem="Q", options=["a"], correct_index=0)
                ]
            ),
            "questions[0].options",
        ),
    ],
)
async def test_bad_imports_name_the_field(packages_stub, admin, request_, field):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await packages_stub.BatchCreateQuestions(request_, metadata=admin)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(caught.value).metadata["field"] == field


async def test_unknown_question_ids_are_listed(packages_stub, admin, block):
    missing = str(uuid.uuid4())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await packages_stub.CreateTestPackage(
            pb.CreateTestPackageRequest(
                name="x", scope="BLOCK", scope_data=struct({"block_id": block}), question_ids=[missing]
            ),
            metadata=admin,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert missing in caught.value.details()


async def test_admin_calls_need_the_admin_role(packages_stub, reader, block):
    for call in (
        packages_stub.BatchCreateQuestions(
            pb.BatchCreateQuestionsRequest(questions=questions(block, 1)), metadata=reader
        ),
        packages_stub.GenerateTestPackage(
            pb.GenerateTestPackageRequest(scope="BLOCK", scope_data=struct({"block_id": block})),
            metadata=reader,
        ),
        packages_stub.PublishTestPackage(
            pb.PublishTestPackageRequest(package_id=str(uuid.uuid4())), metadata=reader
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_generate_for_an_empty_scope_is_invalid(packages_stub, admin, block):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await generate(packages_stub, admin, block)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(caught.value).reason == "EMPTY_SCOPE"
