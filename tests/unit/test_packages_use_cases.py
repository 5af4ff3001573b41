"""The packages use cases on an in-memory store: downloads, comparisons, paging, admin, refusals."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import CollectorRegistry

from services.packages.domain import MAX_HELD, Question
from services.packages.metrics import PackagesMetrics
from services.packages.use_cases import PackagesUseCases
from services.runtime.auth import Principal
from services.runtime.errors import FailedPrecondition, InvalidField, NotFound, PermissionDenied
from tests.fakes import FakePackagesStore

ADMIN = Principal("admin-1", frozenset(), frozenset({"admin"}), "token")
READER = Principal("user-1", frozenset(), frozenset(), "token")
BLOCK_2 = {"block_id": 2}


def question(block_id: int = 2, stem: str = "Which?", year_id: int | None = 1) -> Question:
    return Question(str(uuid.uuid4()), stem, ["A", "B"], 1, "Because.", None, year_id, block_id, None)


@pytest.fixture
def store() -> FakePackagesStore:
    return FakePackagesStore()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def packages(store: FakePackagesStore, registry: CollectorRegistry) -> PackagesUseCases:
    return PackagesUseCases(store, PackagesMetrics(registry))


def downloads(registry: CollectorRegistry, result: str) -> float | None:
    return registry.get_sample_value("studysync_package_downloads_total", {"result": result})


async def published(packages: PackagesUseCases, block_id: int = 2, count: int = 2):
    """A generated (published) package of a block, over `count` fresh bank questions."""
    await packages.import_questions(ADMIN, [question(block_id) for _ in range(count)])
    package, _ = await packages.generate(ADMIN, "BLOCK", {"block_id": block_id}, "", "")
    return package


# -- downloads


async def test_a_plain_read_answers_the_package_with_its_version_hash(packages, registry):
    package = await published(packages)
    download = await packages.get_package(package.summary.package_id)
    assert (download.version_hash, download.package) == (package.summary.version_hash, package)
    assert downloads(registry, "200") == 1


async def test_a_client_holding_the_version_gets_not_modified_from_the_stored_hash_alone(
    packages, store, registry
):
    package = await published(packages)
    store.calls.clear()
    held: list[str] = []
    download = await packages.get_package(package.summary.package_id, lambda h: held.append(h) or True)
    assert (download.version_hash, download.package) == (package.summary.version_hash, None)
    assert held == [package.summary.version_hash]
    assert store.calls == ["validator"]  # no package (and so no questions) read
    assert downloads(registry, "304") == 1 and downloads(registry, "200") is None


async def test_a_client_holding_another_version_gets_the_full_package(packages, registry):
    package = await published(packages)
    download = await packages.get_package(package.summary.package_id, lambda h: False)
    assert download.package == package
    assert downloads(registry, "200") == 1


@pytest.mark.parametrize("held", [None, lambda h: True], ids=["plain", "revalidation"])
async def test_drafts_and_unknown_ids_are_not_found(packages, held):
    await packages.import_questions(ADMIN, [question()])
    draft = await packages.create_draft(ADMIN, "Draft", "", "BLOCK", BLOCK_2, [])
    for package_id in (draft.summary.package_id, str(uuid.uuid4())):
        with pytest.raises(NotFound) as caught:
            await packages.get_package(package_id, held)
        assert caught.value.reason == "PACKAGE_NOT_FOUND"


async def test_a_malformed_package_id_is_refused_before_the_store(packages, store):
    with pytest.raises(InvalidField, match="package_id"):
        await packages.get_package("not-a-uuid", lambda h: True)
    assert store.calls == []


# -- listing and comparing


async def test_listing_pages_newest_first_and_the_last_page_has_no_token(packages):
    made = [await published(packages, block_id=n, count=1) for n in (1, 2, 3)]
    first, token = await packages.list_packages("", None, None, None, 2, "")
    rest, end = await packages.list_packages("", None, None, None, 2, token)
    assert [p.package_id for p in first + rest] == [p.summary.package_id for p in reversed(made)]
    assert token and end == ""
    only, _ = await packages.list_packages("BLOCK", None, 2, None, 10, "")
    assert [p.package_id for p in only] == [made[1].summary.package_id]


@pytest.mark.parametrize(
    ("scope", "block_id", "token", "field"),
    [("COURSE", None, "", "scope"), ("", 0, "", "block_id"), ("", None, "garbage", "page_token")],
)
async def test_listing_refuses_bad_filters_and_tokens_before_the_store(
    packages, store, scope, block_id, token, field
):
    with pytest.raises(InvalidField) as caught:
        await packages.list_packages(scope, None, block_id, None, 10, token)
    assert caught.value.field == field
    assert store.calls == []


async def test_compare_tells_current_stale_and_gone_and_offers_unheld_scopes(packages):
    old = await published(packages, block_id=2)
    await packages.import_questions(ADMIN, [question(2)])  # block 2 changes: a new version
    new, created = await packages.generate(ADMIN, "BLOCK", BLOCK_2, "", "")
    other = await published(packages, block_id=3)
    unheld = await published(packages, block_id=4)
    await packages.import_questions(ADMIN, [question(5)])
    draft = await packages.create_draft(ADMIN, "Draft", "", "BLOCK", {"block_id": 5}, [])
    held = [
        (old.summary.package_id, old.summary.version_hash),
        (other.summary.package_id, other.summary.version_hash),
        (other.summary.package_id, "0" * 64),
        (draft.summary.package_id, draft.summary.version_hash),
        (str(uuid.uuid4()), "0" * 64),
    ]
    result = await packages.compare(held, "", None, None, None)
    assert created and new.summary.version == 2
    assert result.current == [held[1]]
    assert result.stale == [(*held[0], new.summary)]
    assert result.gone == held[2:]
    assert [s.package_id for s in result.new_packages] == [unheld.summary.package_id]
    assert result.next_page_token == ""


async def test_compare_pages_the_new_packages_in_scope_order(packages):
    made = {(await published(packages, block_id=n, count=1)).summary.package_id for n in (1, 2, 3)}
    first = await packages.compare([], "", None, None, None, page_size=2)
    rest = await packages.compare([], "", None, None, None, page_size=2, page_token=first.next_page_token)
    ids = [s.package_id for s in first.new_packages + rest.new_packages]
    assert first.next_page_token and rest.next_page_token == ""
    assert len(ids) == 3 and set(ids) == made


async def test_compare_refuses_too_many_held_packages_or_a_bad_id_before_the_store(packages, store):
    with pytest.raises(InvalidField, match="held"):
        await packages.compare([(str(uuid.uuid4()), "h")] * (MAX_HELD + 1), "", None, None, None)
    with pytest.raises(InvalidField, match=r"held\[1\]\.package_id"):
        await packages.compare([(str(uuid.uuid4()), "h"), ("nope", "h")], "", None, None, None)
    assert store.calls == []


# -- admin


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.import_questions(READER, [question()]),
        lambda p: p.create_draft(READER, "Draft", "", "BLOCK", BLOCK_2, []),
        lambda p: p.publish(READER, str(uuid.uuid4())),
        lambda p: p.generate(READER, "BLOCK", BLOCK_2, "", ""),
    ],
    ids=["import", "create", "publish", "generate"],
)
async def test_admin_calls_need_the_admin_role_before_anything_is_read(packages, store, call):
    with pytest.raises(PermissionDenied) as caught:
        await call(packages)
    assert caught.value.reason == "ROLE_REQUIRED"
    assert store.calls == []


async def test_import_refuses_an_empty_list_a_bad_question_and_a_repeated_id_before_the_store(
    packages, store
):
    repeated = question()
    for questions, field in (
        ([], "questions"),
        ([question(), Question(str(uuid.uuid4()), "Which?", ["A"], 0, "")], "questions[1].options"),
        ([repeated, repeated], "questions"),
    ):
        with pytest.raises(InvalidField) as caught:
            await packages.import_questions(ADMIN, questions)
        assert caught.value.field == field
    assert store.calls == []


async def test_import_stores_canonical_ids(packages, store):
    upper = Question(str(uuid.uuid4()).upper(), "Which?", ["A", "B"], 0, "")
    (stored,) = await packages.import_questions(ADMIN, [upper])
    assert stored.question_id == upper.question_id.lower()
    assert stored.updated_at is not None and stored.question_id in store.questions


async def test_a_draft_names_unknown_questions_or_needs_a_bank_that_matches_its_scope(packages, store):
    unknown = str(uuid.uuid4())
    with pytest.raises(InvalidField) as caught:
        await packages.create_draft(ADMIN, "Draft", "", "BLOCK", BLOCK_2, [unknown])
    assert (caught.value.reason, caught.value.message) == (
        "QUESTION_NOT_FOUND",
        f"question_ids: unknown question ids: {unknown}",
    )
    with pytest.raises(InvalidField) as caught:
        await packages.create_draft(ADMIN, "Draft", "", "BLOCK", BLOCK_2, [])
    assert caught.value.reason == "EMPTY_SCOPE"
    assert "add_version" not in store.calls


async def test_generate_reuses_an_unchanged_scope_and_names_it_after_the_scope(packages, registry):
    await packages.import_questions(ADMIN, [question(2, year_id=1)])
    first, created = await packages.generate(ADMIN, "BLOCK", {"block_id": 2, "year_id": 1}, "", "")
    again, created_again = await packages.generate(ADMIN, "BLOCK", {"year_id": 1, "block_id": 2}, "", "")
    assert (created, created_again) == (True, False)
    assert again == first and first.is_published
    assert first.summary.name == "Block 2 (year 1)"
    assert registry.get_sample_value("studysync_package_generate_total", {"outcome": "created"}) == 1
    assert registry.get_sample_value("studysync_package_generate_total", {"outcome": "unchanged"}) == 1


async def test_publishing_a_draft_older_than_a_published_version_is_refused(packages):
    await packages.import_questions(ADMIN, [question()])
    draft = await packages.create_draft(ADMIN, "Old", "", "BLOCK", BLOCK_2, [])
    newer = await packages.create_draft(ADMIN, "New", "", "BLOCK", BLOCK_2, [])
    assert (await packages.publish(ADMIN, newer.summary.package_id)).is_published
    with pytest.raises(FailedPrecondition) as caught:
        await packages.publish(ADMIN, draft.summary.package_id)
    assert caught.value.reason == "STALE_DRAFT"
    with pytest.raises(NotFound):
        await packages.publish(ADMIN, str(uuid.uuid4()))


# -- questions for sync


async def test_questions_by_id_keep_request_order_and_skip_unknown_ids(packages):
    a, b = await packages.import_questions(ADMIN, [question(), question()])
    found = (await packages.questions([b.question_id, str(uuid.uuid4()), a.question_id], "")).questions
    assert [q.question_id for q in found] == [b.question_id, a.question_id]


async def test_a_packages_questions_carry_its_scope_tags(packages):
    package = await published(packages, block_id=2, count=2)
    found = (await packages.questions([], package.summary.package_id)).questions
    assert [q.question_id for q in found] == [q["question_id"] for q in package.questions]
    assert {(q.block_id, q.year_id) for q in found} == {(2, None)}


async def test_questions_need_exactly_one_source_and_a_published_package(packages, store):
    for ids, package_id in (([], ""), ([str(uuid.uuid4())], str(uuid.uuid4()))):
        with pytest.raises(InvalidField, match="set exactly one"):
            await packages.questions(ids, package_id)
    assert store.calls == []
    await packages.import_questions(ADMIN, [question()])
    draft = await packages.create_draft(ADMIN, "Draft", "", "BLOCK", BLOCK_2, [])
    with pytest.raises(FailedPrecondition) as caught:
        await packages.questions([], draft.summary.package_id)
    assert caught.value.reason == "PACKAGE_NOT_PUBLISHED"
    with pytest.raises(NotFound):
        await packages.questions([], str(uuid.uuid4()))
