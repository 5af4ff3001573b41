"""The packages service over real gRPC, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid

import grpc
import pytest
import rfc8785
from google.protobuf import json_format, struct_pb2
from sqlalchemy import event, exc, text

from services.packages.repository import PackagesRepository
from services.runtime.errors import FailedPrecondition
from studysync.packages.v1 import packages_service_pb2 as pb
from studysync.packages.v1 import resources_pb2 as res
from tests.conftest import auth
from tests.helpers import error_info, metric_value, scrape_metrics

UNKNOWN_SCOPE = 99  # a number no Scope name has, as a newer client could send


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
def service_caller(make_token):
    """Sync's identity: BatchGetQuestions is internal and refuses a user's token."""
    return auth(make_token("service:sync", roles=["service"]))


@pytest.fixture
def load_questions(packages_stub, admin, block):
    """Adds `count` new questions of the test's block to the load_questions and returns them."""

    async def load(count: int = 3) -> list[res.Question]:
        batch = questions(block, count)
        await packages_stub.BatchCreateQuestions(
            pb.BatchCreateQuestionsRequest(questions=batch), metadata=admin
        )
        return batch

    return load


async def generate(stub, admin, block: int, scope_data: dict | None = None) -> pb.GenerateTestPackageResponse:
    return await stub.GenerateTestPackage(
        pb.GenerateTestPackageRequest(scope=res.BLOCK, scope_data=struct(scope_data or {"block_id": block})),
        metadata=admin,
    )


def create_draft(stub, admin, scope_data: dict, question_ids=(), scope: int = res.BLOCK, **fields):
    """The CreateTestPackage call (awaitable) for a draft of one scope; from the bank without ids."""
    name = fields.pop("name", "Draft")
    request = pb.CreateTestPackageRequest(
        name=name, scope=scope, scope_data=struct(scope_data), question_ids=list(question_ids), **fields
    )
    return stub.CreateTestPackage(request, metadata=admin)


async def invalid(call) -> grpc.aio.AioRpcError:
    """The INVALID_ARGUMENT error a call fails with."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    return caught.value


async def test_generate_builds_and_publishes_a_version_only_when_content_changed(
    packages_stub, admin, load_questions, block
):
    loaded = await load_questions()
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


async def test_concurrent_generate_makes_one_version(packages_stub, admin, block):
    batch = questions(block, 3, year_id=block)
    await packages_stub.BatchCreateQuestions(pb.BatchCreateQuestionsRequest(questions=batch), metadata=admin)
    # Ten calls for one scope, spelled three ways: key order and 2 vs 2.0 make no other scope.
    spellings = [{"year_id": block, "block_id": block}, {"block_id": block, "year_id": block}]
    spellings.append({"block_id": float(block), "year_id": float(block)})
    results = await asyncio.gather(
        *(generate(packages_stub, admin, block, spellings[n % 3]) for n in range(10))
    )
    assert sum(r.created for r in results) == 1
    assert len({r.package.package_id for r in results}) == 1
    assert {r.package.version for r in results} == {1}
    batch[0].stem = "Changed while two admins regenerate?"
    await packages_stub.BatchCreateQuestions(
        pb.BatchCreateQuestionsRequest(questions=[batch[0]]), metadata=admin
    )
    again = await asyncio.gather(
        *(generate(packages_stub, admin, block, spellings[n % 3]) for n in range(10))
    )
    assert sum(r.created for r in again) == 1 and {r.package.version for r in again} == {2}


async def test_concurrent_drafts_of_one_scope_get_distinct_version_numbers(
    packages_stub, admin, load_questions, block
):
    await load_questions()
    drafts = await asyncio.gather(
        *(create_draft(packages_stub, admin, {"block_id": block}, name=f"Draft {n}") for n in range(10))
    )
    assert sorted(d.version for d in drafts) == list(range(1, 11))
    assert len({d.version_hash for d in drafts}) == 1  # the same content, drafts are not deduplicated


async def test_the_unique_constraint_refuses_a_second_version_number_for_one_scope(
    packages_server, packages_stub, admin, load_questions, block
):
    await load_questions()
    package = (await generate(packages_stub, admin, block)).package
    engine = packages_server.service.runtime.engine
    with pytest.raises(exc.IntegrityError, match="uq_test_packages_scope_version|UNIQUE constraint failed"):
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO test_packages (package_id, name, description, scope, scope_data, scope_key,"
                    " version, version_hash, questions, question_count, is_published, created_by,"
                    " created_at, updated_at) SELECT :id, name, description, scope, scope_data, scope_key,"
                    " version, version_hash, questions, question_count, false, created_by, created_at,"
                    " updated_at FROM test_packages WHERE version_hash = :h"
                ),
                {
                    "id": uuid.uuid4().hex if engine.dialect.name == "sqlite" else uuid.uuid4(),
                    "h": package.version_hash,
                },
            )


async def test_draft_from_question_ids_then_publish_is_frozen_and_publishing_again_is_a_no_op(
    packages_stub, admin, reader, load_questions, block
):
    loaded = await load_questions()
    draft = await create_draft(
        packages_stub,
        admin,
        {"block_id": block},
        [loaded[2].question_id, loaded[0].question_id],
        name="Cardiac cycle",
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


async def publish(stub, admin, package_id: str) -> res.TestPackage:
    return await stub.PublishTestPackage(pb.PublishTestPackageRequest(package_id=package_id), metadata=admin)


async def test_a_draft_older_than_the_published_version_of_its_scope_is_refused(
    packages_stub, admin, reader, load_questions, block
):
    await load_questions()
    older = await create_draft(packages_stub, admin, {"block_id": block}, name="v1")
    newer = await create_draft(packages_stub, admin, {"block_id": block}, name="v2")
    assert (older.version, newer.version) == (1, 2)
    await publish(packages_stub, admin, newer.package_id)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await publish(packages_stub, admin, older.package_id)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(caught.value)
    assert info.reason == "STALE_DRAFT" and info.metadata["field"] == "package_id"
    listed = await packages_stub.ListTestPackages(
        pb.ListTestPackagesRequest(scope=res.BLOCK, block_id=block), metadata=reader
    )
    assert [p.package_id for p in listed.packages] == [newer.package_id]  # the old draft stayed a draft
    again = await publish(packages_stub, admin, newer.package_id)  # publishing is still idempotent
    assert again.is_published


async def test_drafts_published_in_version_order_are_both_published(
    packages_stub, admin, load_questions, block
):
    await load_questions()
    first = await create_draft(packages_stub, admin, {"block_id": block})
    second = await create_draft(packages_stub, admin, {"block_id": block})
    assert (await publish(packages_stub, admin, first.package_id)).is_published
    assert (await publish(packages_stub, admin, second.package_id)).is_published


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE test_packages SET name = 'changed' WHERE version_hash = :h",
        "UPDATE test_packages SET is_published = false WHERE version_hash = :h",
        "DELETE FROM test_packages WHERE version_hash = :h",
    ],
    ids=["rename", "unpublish", "delete"],
)
async def test_any_change_to_a_published_package_is_a_failed_precondition(
    packages_server, packages_stub, admin, load_questions, block, change
):
    await load_questions()
    package = (await generate(packages_stub, admin, block)).package
    runtime = packages_server.service.runtime
    repository = PackagesRepository(runtime.engine, runtime.sessions)
    with pytest.raises(FailedPrecondition) as caught:
        async with repository.writing() as session:
            await session.execute(text(change), {"h": package.version_hash})
    assert caught.value.reason == "PACKAGE_IMMUTABLE"
    fetched = await packages_stub.GetTestPackage(
        pb.GetTestPackageRequest(package_id=package.package_id), metadata=admin
    )
    assert fetched == package


async def test_conditional_get_sends_the_etag_and_304_metadata(
    packages_stub, admin, reader, load_questions, block
):
    await load_questions()
    package = (await generate(packages_stub, admin, block)).package
    validators = {
        "etag": f'"{package.version_hash}"',
        "cache-control": "private, max-age=31536000, immutable",
    }
    call = packages_stub.GetTestPackage(
        pb.GetTestPackageRequest(package_id=package.package_id), metadata=reader
    )
    assert dict(await call.initial_metadata()).items() >= validators.items()
    assert "x-http-status" not in dict(await call.initial_metadata())
    assert (await call).question_count == 3
    call = packages_stub.GetTestPackage(
        pb.GetTestPackageRequest(package_id=package.package_id),
        metadata=(*reader, ("if-none-match", f'W/"{package.version_hash}"')),
    )
    metadata = dict(await call.initial_metadata())
    assert metadata.items() >= {**validators, "x-http-status": "304"}.items()
    assert (await call).ByteSize() == 0


async def test_repeated_if_none_match_lines_are_one_list(packages_stub, admin, reader, load_questions, block):
    await load_questions()
    package = (await generate(packages_stub, admin, block)).package
    call = packages_stub.GetTestPackage(
        pb.GetTestPackageRequest(package_id=package.package_id),
        metadata=(
            *reader,
            ("if-none-match", f'"{"0" * 64}"'),
            ("if-none-match", f'"{package.version_hash}"'),
        ),
    )
    assert dict(await call.initial_metadata()).get("x-http-status") == "304"


async def test_a_stale_tag_gets_the_full_package_and_star_on_an_unknown_id_is_404(
    packages_stub, admin, reader, load_questions, block
):
    await load_questions()
    package = (await generate(packages_stub, admin, block)).package
    full = await packages_stub.GetTestPackage(
        pb.GetTestPackageRequest(package_id=package.package_id),
        metadata=(*reader, ("if-none-match", f'W/"{"0" * 64}", "{package.version_hash[:-1]}"')),
    )
    assert full == package
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await packages_stub.GetTestPackage(
            pb.GetTestPackageRequest(package_id=str(uuid.uuid4())), metadata=(*reader, ("if-none-match", "*"))
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_revalidation_reads_only_the_stored_hash(
    packages_server, packages_stub, admin, reader, load_questions, block
):
    """304 must stay cheap: one SELECT of version_hash, no questions loaded, nothing hashed."""
    await load_questions()
    package = (await generate(packages_stub, admin, block)).package
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        # The bank-version repair loop (bank_versions.REPAIR_SECONDS) reads bank_version on its own
        # schedule: a round that falls inside the window is not the request's.
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")) and "FROM bank_version" not in statement:
            statements.append(statement)

    engine = packages_server.service.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        call = packages_stub.GetTestPackage(
            pb.GetTestPackageRequest(package_id=package.package_id),
            metadata=(*reader, ("if-none-match", f'"{package.version_hash}"')),
        )
        assert dict(await call.initial_metadata())["x-http-status"] == "304"
        await call
        revalidation, statements[:] = list(statements), []
        await packages_stub.GetTestPackage(
            pb.GetTestPackageRequest(package_id=package.package_id), metadata=reader
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    [select] = revalidation
    selected = select.split("FROM")[0]
    assert "version_hash" in selected and "questions" not in selected and "scope_data" not in selected
    assert len(statements) == 1  # a full GET is one read too


async def test_the_hash_can_be_recomputed_from_the_downloaded_package(packages_stub, admin, reader, block):
    batch = questions(block, 3)
    batch[1].stem = "Ünïcødé — “quotes”, emoji 🫀 and a tab\t?"
    batch[2].explanation = ""
    batch[2].correct_index = 0
    await packages_stub.BatchCreateQuestions(pb.BatchCreateQuestionsRequest(questions=batch), metadata=admin)
    package = (await generate(packages_stub, admin, block)).package
    downloaded = json_format.MessageToDict(
        await packages_stub.GetTestPackage(
            pb.GetTestPackageRequest(package_id=package.package_id), metadata=reader
        ),
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )
    content = {k: downloaded[k] for k in ("scope", "scope_data", "questions")}
    assert hashlib.sha256(rfc8785.dumps(content)).hexdigest() == package.version_hash


async def test_list_filters_by_scope_ids_and_pages_newest_first(packages_stub, admin, reader, block):
    year = block  # a year of our own, so the listing holds only this test's packages
    made = []
    for offset in range(5):
        batch = questions(block + offset, 2, year_id=year)
        await packages_stub.BatchCreateQuestions(
            pb.BatchCreateQuestionsRequest(questions=batch), metadata=admin
        )
        made.append(
            (await generate(packages_stub, admin, 0, {"year_id": year, "block_id": block + offset})).package
        )
    # a draft of the same year is never listed
    await create_draft(packages_stub, admin, {"year_id": year}, [batch[0].question_id], scope=res.YEAR)
    only = await packages_stub.ListTestPackages(
        pb.ListTestPackagesRequest(scope=res.BLOCK, block_id=block + 1), metadata=reader
    )
    assert [p.package_id for p in only.packages] == [made[1].package_id]
    item = only.packages[0]
    assert item.question_count == 2 and item.version_hash == made[1].version_hash
    assert item.HasField("published_at") and item.name == made[1].name
    assert (
        await packages_stub.ListTestPackages(
            pb.ListTestPackagesRequest(scope=res.YEAR, year_id=year), metadata=reader
        )
    ).packages == []
    assert (
        await packages_stub.ListTestPackages(
            pb.ListTestPackagesRequest(scope=res.THEME, block_id=block + 1), metadata=reader
        )
    ).packages == []
    seen, token, pages = [], "", 0
    while True:
        page = await packages_stub.ListTestPackages(
            pb.ListTestPackagesRequest(year_id=year, page_size=2, page_token=token), metadata=reader
        )
        seen += [p.package_id for p in page.packages]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == [p.package_id for p in reversed(made)] and pages == 3  # newest first, each once


async def test_compare_tells_current_stale_gone_and_new(packages_stub, admin, reader, load_questions, block):
    loaded = await load_questions()
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
            scope=res.BLOCK,
        ),
        metadata=reader,
    )
    assert [h.package_id for h in result.current] == [v2.package_id]
    assert [(s.package_id, s.latest.package_id) for s in result.stale] == [(v1.package_id, v2.package_id)]
    assert result.stale[0].latest.version == 2 and result.stale[0].latest.version_hash == v2.version_hash
    assert [h.package_id for h in result.gone] == [unknown, v2.package_id]
    new_ids = {p.package_id for p in result.new_packages}
    assert fresh.package_id in new_ids and v2.package_id not in new_ids and v1.package_id not in new_ids


async def test_compare_pages_its_new_packages_until_the_token_is_empty(packages_stub, admin, reader, block):
    year = block  # a year of this test's own, so the filter sees only its packages
    made = set()
    for b in range(block, block + 5):
        await packages_stub.BatchCreateQuestions(
            pb.BatchCreateQuestionsRequest(questions=questions(b, 2, year_id=year)), metadata=admin
        )
        made.add(
            (await generate(packages_stub, admin, b, {"block_id": b, "year_id": year})).package.package_id
        )
    seen, token, pages = [], "", 0
    while True:
        page = await packages_stub.CompareTestPackages(
            pb.CompareTestPackagesRequest(scope=res.BLOCK, year_id=year, page_size=2, page_token=token),
            metadata=reader,
        )
        pages += 1
        assert len(page.new_packages) <= 2
        seen += [p.package_id for p in page.new_packages]
        token = page.next_page_token
        if not token:
            break
    assert pages == 3 and sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    error = await invalid(
        packages_stub.CompareTestPackages(pb.CompareTestPackagesRequest(page_token="nope"), metadata=reader)
    )
    assert error_info(error).metadata["field"] == "page_token"


async def test_compare_offers_the_current_version_to_a_device_whose_copy_is_gone(
    packages_stub, admin, reader, load_questions, block
):
    await load_questions()
    package = (await generate(packages_stub, admin, block)).package
    draft = await create_draft(packages_stub, admin, {"block_id": block})
    result = await packages_stub.CompareTestPackages(
        pb.CompareTestPackagesRequest(
            held=[
                res.HeldPackage(package_id=package.package_id, version_hash="0" * 64),  # a corrupt copy
                res.HeldPackage(package_id=draft.package_id, version_hash=draft.version_hash),
            ],
            block_id=block,
        ),
        metadata=reader,
    )
    assert [h.package_id for h in result.gone] == [package.package_id, draft.package_id]
    assert [p.package_id for p in result.new_packages] == [package.package_id]
    assert not result.current and not result.stale


async def test_batch_get_questions_by_ids_and_by_package_snapshot(
    packages_stub, admin, service_caller, load_questions, block
):
    reader = service_caller
    loaded = await load_questions()
    package = (await generate(packages_stub, admin, block)).package
    ids = [loaded[1].question_id.upper(), str(uuid.uuid4()), loaded[0].question_id]
    by_id = await packages_stub.BatchGetQuestions(
        pb.BatchGetQuestionsRequest(question_ids=pb.QuestionIds(ids=ids)), metadata=reader
    )
    assert [q.question_id for q in by_id.questions] == [loaded[1].question_id, loaded[0].question_id]
    first = by_id.questions[0]
    assert first.correct_index == loaded[1].correct_index and list(first.options) == list(loaded[1].options)
    assert (first.year_id, first.block_id, first.theme_id) == (1, block, loaded[1].theme_id)
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
    bank_now = await packages_stub.BatchGetQuestions(
        pb.BatchGetQuestionsRequest(question_ids=pb.QuestionIds(ids=[loaded[1].question_id])), metadata=reader
    )
    assert bank_now.questions[0].correct_index == loaded[1].correct_index != frozen[loaded[1].question_id]


async def test_batch_get_questions_refuses_a_draft_and_404s_an_unknown_package(
    packages_stub, admin, service_caller, load_questions, block
):
    loaded = await load_questions()
    draft = await create_draft(packages_stub, admin, {"block_id": block}, [loaded[0].question_id])
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # a draft may still change: never scored
        await packages_stub.BatchGetQuestions(
            pb.BatchGetQuestionsRequest(package_id=draft.package_id), metadata=service_caller
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(caught.value).reason == "PACKAGE_NOT_PUBLISHED"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await packages_stub.BatchGetQuestions(
            pb.BatchGetQuestionsRequest(package_id=str(uuid.uuid4())), metadata=service_caller
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_batch_get_questions_refuses_a_user_token_and_admits_an_admin(
    packages_stub, admin, reader, load_questions
):
    loaded = await load_questions()
    request = pb.BatchGetQuestionsRequest(question_ids=pb.QuestionIds(ids=[loaded[0].question_id]))
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # the answer key is not a learner's to read
        await packages_stub.BatchGetQuestions(request, metadata=reader)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(caught.value).reason == "INTERNAL_METHOD"
    found = await packages_stub.BatchGetQuestions(request, metadata=admin)
    assert [q.question_id for q in found.questions] == [loaded[0].question_id]


@pytest.mark.parametrize(
    ("rpc", "request_", "field"),
    [
        ("GetTestPackage", pb.GetTestPackageRequest(package_id="not-a-uuid"), "package_id"),
        ("GetTestPackage", pb.GetTestPackageRequest(), "package_id"),
        ("ListTestPackages", pb.ListTestPackagesRequest(scope=UNKNOWN_SCOPE), "scope"),
        ("ListTestPackages", pb.ListTestPackagesRequest(page_token="???"), "page_token"),
        ("ListTestPackages", pb.ListTestPackagesRequest(page_size=-1), "page_size"),
        ("ListTestPackages", pb.ListTestPackagesRequest(block_id=0), "block_id"),
        ("BatchGetQuestions", pb.BatchGetQuestionsRequest(), "question_ids"),
        ("BatchGetQuestions", pb.BatchGetQuestionsRequest(question_ids=pb.QuestionIds()), "question_ids"),
        ("BatchGetQuestions", pb.BatchGetQuestionsRequest(package_id=""), "question_ids"),
        (
            "BatchGetQuestions",
            pb.BatchGetQuestionsRequest(question_ids=pb.QuestionIds(ids=["x"])),
            "question_ids[0]",
        ),
        (
            "BatchGetQuestions",
            pb.BatchGetQuestionsRequest(
                question_ids=pb.QuestionIds(ids=[str(uuid.uuid4()) for _ in range(1001)])
            ),
            "question_ids",
        ),
        ("BatchGetQuestions", pb.BatchGetQuestionsRequest(package_id="x"), "package_id"),
        (
            "CompareTestPackages",
            pb.CompareTestPackagesRequest(held=[res.HeldPackage(package_id="x")]),
            "held[0].package_id",
        ),
        (
            "CompareTestPackages",
            pb.CompareTestPackagesRequest(held=[res.HeldPackage(package_id=str(uuid.uuid4()))] * 501),
            "held",
        ),
        ("CompareTestPackages", pb.CompareTestPackagesRequest(scope=UNKNOWN_SCOPE), "scope"),
    ],
)
async def test_bad_reads_are_invalid_argument_naming_the_field(
    packages_stub, reader, service_caller, rpc, request_, field
):
    caller = service_caller if rpc == "BatchGetQuestions" else reader  # an internal call
    error = await invalid(getattr(packages_stub, rpc)(request_, metadata=caller))
    assert error_info(error).metadata["field"] == field
    assert error.details().startswith(f"{field}:")


async def test_unknown_package_is_not_found(packages_stub, reader):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await packages_stub.GetTestPackage(
            pb.GetTestPackageRequest(package_id=str(uuid.uuid4())), metadata=reader
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(caught.value).reason == "PACKAGE_NOT_FOUND"


def _question(**fields) -> res.Question:
    base = {"question_id": str(uuid.uuid4()), "stem": "Q?", "options": ["a", "b", "c"], "correct_index": 0}
    return res.Question(**{**base, **fields})


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (_question(options=["only one"]), "questions[3].options"),
        (_question(options=["a", "b", "c", "d", "e", "f", "g"]), "questions[3].options"),
        (_question(options=["a", ""]), "questions[3].options[1]"),
        (_question(correct_index=3), "questions[3].correct_index"),
        (_question(correct_index=-1), "questions[3].correct_index"),
        (_question(stem=""), "questions[3].stem"),
        (_question(question_id="q-4"), "questions[3].question_id"),
        (_question(block_id=0), "questions[3].block_id"),
        (_question(year_id=2**53), "questions[3].year_id"),
        (_question(program=""), "questions[3].program"),
        (_question(stem="NUL\x00inside"), "questions[3].stem"),  # PostgreSQL text cannot hold it
        (_question(options=["a", "b\x00"]), "questions[3].options[1]"),
        (_question(explanation="\x00"), "questions[3].explanation"),
        (_question(program="p\x00"), "questions[3].program"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_a_bad_question_is_named_by_its_index_and_nothing_is_stored(
    packages_stub, admin, service_caller, bad, field
):
    good = [_question() for _ in range(3)]
    error = await invalid(
        packages_stub.BatchCreateQuestions(
            pb.BatchCreateQuestionsRequest(questions=[*good, bad]), metadata=admin
        )
    )
    assert error_info(error).metadata["field"] == field
    stored = await packages_stub.BatchGetQuestions(
        pb.BatchGetQuestionsRequest(question_ids=pb.QuestionIds(ids=[q.question_id for q in good])),
        metadata=service_caller,
    )
    assert list(stored.questions) == []  # the whole call was refused, not half stored


@pytest.mark.parametrize(
    ("batch", "field"),
    [
        ([], "questions"),
        ([_question() for _ in range(1001)], "questions"),
        ([_question(question_id="550e8400-e29b-41d4-a716-446655440000")] * 2, "questions"),
    ],
    ids=["empty", "over-1000", "repeated-id"],
)
async def test_batch_limits_and_repeats_are_refused(packages_stub, admin, batch, field):
    error = await invalid(
        packages_stub.BatchCreateQuestions(pb.BatchCreateQuestionsRequest(questions=batch), metadata=admin)
    )
    assert error_info(error).metadata["field"] == field


async def test_a_thousand_questions_import_in_one_call(packages_stub, admin, service_caller, block):
    batch = questions(block, 1000)
    stored = await packages_stub.BatchCreateQuestions(
        pb.BatchCreateQuestionsRequest(questions=batch), metadata=admin
    )
    assert [q.question_id for q in stored.questions] == [q.question_id for q in batch]
    assert all(q.HasField("updated_at") for q in stored.questions)
    found = await packages_stub.BatchGetQuestions(
        pb.BatchGetQuestionsRequest(question_ids=pb.QuestionIds(ids=[q.question_id for q in batch])),
        metadata=service_caller,
    )
    assert len(found.questions) == 1000


async def test_a_draft_from_the_bank_takes_the_questions_matching_the_scope(
    packages_stub, admin, load_questions, block
):
    loaded = await load_questions(6)  # themes block*10 and block*10 + 1, alternately
    draft = await create_draft(
        packages_stub,
        admin,
        {"theme_id": block * 10 + 1, "block_id": block},
        scope=res.THEME,
        name="One theme",
        description="Questions of one theme",
    )
    theme = sorted(q.question_id for q in loaded if q.theme_id == block * 10 + 1)
    assert [q.question_id for q in draft.questions] == theme and draft.question_count == 3
    assert not draft.is_published and draft.version == 1 and draft.created_by == "admin-1"
    assert struct_pb2.Struct(fields=draft.scope_data.fields) == struct(
        {"block_id": block, "theme_id": block * 10 + 1}
    )
    assert draft.description == "Questions of one theme"


async def test_unknown_question_ids_are_listed(packages_stub, admin, load_questions, block):
    loaded = await load_questions()
    missing = [str(uuid.uuid4()), str(uuid.uuid4())]
    error = await invalid(
        create_draft(
            packages_stub, admin, {"block_id": block}, [missing[0], loaded[0].question_id, missing[1]]
        )
    )
    info = error_info(error)
    assert info.metadata["field"] == "question_ids" and info.reason == "QUESTION_NOT_FOUND"
    assert all(m in error.details() for m in missing) and loaded[0].question_id not in error.details()


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.CreateTestPackageRequest(scope=res.BLOCK, scope_data=struct({"block_id": 1})), "name"),
        (
            pb.CreateTestPackageRequest(name="x", scope=UNKNOWN_SCOPE, scope_data=struct({"block_id": 1})),
            "scope",
        ),
        (pb.CreateTestPackageRequest(name="x", scope=res.BLOCK), "scope_data"),
        (
            pb.CreateTestPackageRequest(name="x", scope=res.BLOCK, scope_data=struct({"year_id": 1})),
            "scope_data",
        ),
        (
            pb.CreateTestPackageRequest(name="x", scope=res.BLOCK, scope_data=struct({"block_id": "two"})),
            "scope_data.block_id",
        ),
        (
            pb.CreateTestPackageRequest(
                name="x", scope=res.BLOCK, scope_data=struct({"block_id": 1}), question_ids=["nope"]
            ),
            "question_ids[0]",
        ),
    ],
)
async def test_bad_drafts_name_the_field(packages_stub, admin, request_, field):
    error = await invalid(packages_stub.CreateTestPackage(request_, metadata=admin))
    assert error_info(error).metadata["field"] == field


async def test_publishing_an_unknown_package_is_not_found_and_a_bad_id_is_invalid(packages_stub, admin):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await packages_stub.PublishTestPackage(
            pb.PublishTestPackageRequest(package_id=str(uuid.uuid4())), metadata=admin
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    error = await invalid(
        packages_stub.PublishTestPackage(pb.PublishTestPackageRequest(package_id="7"), metadata=admin)
    )
    assert error_info(error).metadata["field"] == "package_id"


ADMIN_CALLS = {
    "BatchCreateQuestions": pb.BatchCreateQuestionsRequest(questions=[_question()]),
    "CreateTestPackage": pb.CreateTestPackageRequest(
        name="x", scope=res.BLOCK, scope_data=struct({"block_id": 1})
    ),
    "PublishTestPackage": pb.PublishTestPackageRequest(package_id=str(uuid.uuid4())),
    "GenerateTestPackage": pb.GenerateTestPackageRequest(scope=res.BLOCK, scope_data=struct({"block_id": 1})),
}
READ_CALLS = {
    "ListTestPackages": pb.ListTestPackagesRequest(),
    "GetTestPackage": pb.GetTestPackageRequest(package_id=str(uuid.uuid4())),
    "CompareTestPackages": pb.CompareTestPackagesRequest(),
    "BatchGetQuestions": pb.BatchGetQuestionsRequest(question_ids=pb.QuestionIds(ids=[str(uuid.uuid4())])),
}


@pytest.mark.parametrize("rpc", sorted(ADMIN_CALLS))
async def test_admin_calls_need_the_admin_role(packages_stub, reader, rpc):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await getattr(packages_stub, rpc)(ADMIN_CALLS[rpc], metadata=reader)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(caught.value).reason == "ROLE_REQUIRED"


@pytest.mark.parametrize("rpc", sorted({**ADMIN_CALLS, **READ_CALLS}))
@pytest.mark.parametrize("token", ["none", "expired", "not-bearer"])
async def test_every_call_needs_a_valid_token(packages_stub, make_token, rpc, token):
    metadata = {
        "none": (),
        "expired": auth(make_token("admin-1", roles=["admin"], ttl=-60)),
        "not-bearer": (("authorization", "Basic YWRtaW46YWRtaW4="),),
    }[token]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await getattr(packages_stub, rpc)({**ADMIN_CALLS, **READ_CALLS}[rpc], metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_generate_for_an_empty_scope_is_invalid(packages_stub, admin, block):
    error = await invalid(generate(packages_stub, admin, block))
    assert error_info(error).reason == "EMPTY_SCOPE"


async def test_metrics_count_downloads_by_result_and_generate_outcomes(
    packages_server, packages_stub, admin, reader, load_questions, block
):
    await load_questions()
    before = await scrape_metrics(packages_server.metrics_url)
    package = (await generate(packages_stub, admin, block)).package
    await generate(packages_stub, admin, block)
    await generate(packages_stub, admin, block)
    request = pb.GetTestPackageRequest(package_id=package.package_id)
    await packages_stub.GetTestPackage(request, metadata=reader)
    for _ in range(2):
        await packages_stub.GetTestPackage(request, metadata=(*reader, ("if-none-match", "*")))
    after = await scrape_metrics(packages_server.metrics_url)

    def delta(name: str, **labels: str) -> float:
        return metric_value(after, name, **labels) - metric_value(before, name, **labels)

    assert delta("studysync_package_downloads_total", result="200") == 1
    assert delta("studysync_package_downloads_total", result="304") == 2
    assert delta("studysync_package_generate_total", outcome="created") == 1
    assert delta("studysync_package_generate_total", outcome="unchanged") == 2
