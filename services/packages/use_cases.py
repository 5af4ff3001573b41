"""The packages use cases: what each RPC does, in domain terms (no gRPC, no SQL, no HTTP)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from services.packages import domain
from services.packages.domain import (
    Comparison,
    Download,
    Package,
    PackageSummary,
    Question,
    QuestionsRead,
    Scope,
)
from services.packages.metrics import PackagesMetrics
from services.packages.store import BankVersions, PackagesStore
from services.runtime import paging
from services.runtime.auth import Principal
from services.runtime.db import runs_to_completion
from services.runtime.errors import FailedPrecondition, InvalidField, NotFound
from services.runtime.validation import check_text, parse_uuid


def _not_published() -> NotFound:
    return NotFound("no published package with this id", reason="PACKAGE_NOT_FOUND", field="package_id")


class PackagesUseCases:
    def __init__(
        self, store: PackagesStore, metrics: PackagesMetrics, versions: BankVersions | None = None
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._versions = versions  # None: the bank version is published nowhere

    # -- reading (any signed-in user)

    async def list_packages(
        self,
        scope: str,
        year_id: int | None,
        block_id: int | None,
        theme_id: int | None,
        page_size: int,
        page_token: str,
    ) -> tuple[list[PackageSummary], str]:
        limit = paging.page_limit(page_size, domain.MAX_PAGE_SIZE, domain.DEFAULT_PAGE_SIZE)
        found = await self._store.list_published(
            domain.check_scope_filter(scope),
            domain.check_filters(year_id, block_id, theme_id),
            limit + 1,
            domain.decode_page(page_token),
        )
        page = found[:limit]
        return page, domain.encode_page(page[-1]) if len(found) > limit else ""

    async def get_package(self, package_id: str, held: Callable[[str], bool] | None = None) -> Download:
        """A published package, unless `held` says the client holds its version (a revalidation:
        then only the stored hash is read, no questions are loaded and nothing is hashed). Without
        `held` (a plain read) the package is read once."""
        key = parse_uuid("package_id", package_id)
        if held is not None:
            version_hash = await self._store.validator(key)
            if version_hash is None:
                raise _not_published()
            if held(version_hash):
                self._metrics.downloads.labels("304").inc()
                return Download(version_hash, None)
        package = await self._store.package(key)
        if package is None or not package.is_published:
            raise _not_published()
        self._metrics.downloads.labels("200").inc()
        return Download(package.summary.version_hash, package)

    async def compare(
        self,
        held: list[tuple[str, str]],
        scope: str,
        year_id: int | None,
        block_id: int | None,
        theme_id: int | None,
        page_size: int = 0,
        page_token: str = "",
    ) -> Comparison:
        limit = paging.page_limit(page_size, domain.MAX_PAGE_SIZE, domain.DEFAULT_PAGE_SIZE)
        after = domain.decode_new_page(page_token)
        if len(held) > domain.MAX_HELD:
            raise InvalidField("held", f"must hold at most {domain.MAX_HELD} packages")
        ids = [parse_uuid(f"held[{n}].package_id", package_id) for n, (package_id, _) in enumerate(held)]
        known = await self._store.summaries_by_id(ids)
        scopes = {k.scope_id for k in known.values() if k.is_published}
        latest = await self._store.latest_published(scope_keys=sorted(scopes))
        current, stale, gone = [], [], []
        # Scopes the device holds a valid copy of (current or stale); a gone copy's scope is offered anew.
        held_scopes: set[domain.ScopeId] = set()
        for (package_id, version_hash), key in zip(held, ids, strict=True):
            entry = known.get(str(key))
            if entry is None or not entry.is_published or entry.summary.version_hash != version_hash:
                gone.append((package_id, version_hash))
                continue
            held_scopes.add(entry.scope_id)
            newest = latest[entry.scope_id]
            if newest.package_id == entry.summary.package_id:
                current.append((package_id, version_hash))
            else:
                stale.append((package_id, version_hash, newest))
        matching = await self._store.latest_published(
            domain.check_scope_filter(scope), domain.check_filters(year_id, block_id, theme_id)
        )
        new = sorted(
            (s for scope_id, s in matching.items() if scope_id not in held_scopes),
            key=lambda s: (s.scope, s.package_id),
        )
        if after is not None:
            new = [s for s in new if (s.scope, s.package_id) > after]
        token = domain.encode_new_page(new[limit - 1]) if len(new) > limit else ""
        return Comparison(current, stale, gone, new[:limit], token)

    async def questions(self, question_ids: list[str], package_id: str) -> QuestionsRead:
        """The sync service's one call per batch: bank questions by id, with the bank version they
        are of and where it is published, or a published package's snapshot."""
        if bool(question_ids) == bool(package_id):
            raise InvalidField("question_ids", "set exactly one of question_ids and package_id")
        if package_id:
            package = await self._store.package(parse_uuid("package_id", package_id))
            if package is None:
                raise NotFound("no package with this id", reason="PACKAGE_NOT_FOUND", field="package_id")
            if not package.is_published:  # a draft may still change: nothing is scored against it
                raise FailedPrecondition(
                    "the package is not published", reason="PACKAGE_NOT_PUBLISHED", field="package_id"
                )
            tags = package.summary.scope_data
            return QuestionsRead([Question.from_snapshot(q, tags) for q in package.questions])
        ids = domain.parse_ids("question_ids", question_ids)
        version, found = await self._store.versioned_questions(ids)
        keys = self._versions.keys if self._versions is not None else None
        return QuestionsRead([found[i] for i in ids if i in found], version, keys)

    # -- admin

    async def import_questions(self, principal: Principal, questions: list[Question]) -> list[Question]:
        principal.require_role("admin")
        if not 1 <= len(questions) <= domain.MAX_QUESTIONS_PER_CALL:
            raise InvalidField("questions", f"must hold 1 to {domain.MAX_QUESTIONS_PER_CALL} questions")
        valid = [domain.validate_question(q, f"questions[{n}]") for n, q in enumerate(questions)]
        if len({q.question_id for q in valid}) != len(valid):
            raise InvalidField("questions", "must not repeat a question_id")
        return await self._write_bank(valid)

    @runs_to_completion
    async def _write_bank(self, questions: Sequence[Question]) -> list[Question]:
        """The write between its pending mark and its publication, run to its end even if the
        request is cancelled: a committed bank write is always published (bank_versions)."""
        if self._versions is None:
            return (await self._store.upsert_questions(questions))[0]
        await self._versions.before_write()  # Unavailable: nothing is written
        committed = None
        try:
            stored, committed = await self._store.upsert_questions(questions)
        finally:
            await self._versions.after_write(committed)
        return stored

    async def create_draft(
        self,
        principal: Principal,
        name: str,
        description: str,
        scope_kind: str,
        scope_data: dict[str, Any] | None,
        question_ids: list[str],
    ) -> Package:
        principal.require_role("admin")
        check_text("name", name, 200)
        check_text("description", description, 2000, required=False)
        scope = domain.parse_scope(scope_kind, scope_data)
        if question_ids:
            ids = domain.parse_ids("question_ids", question_ids)
            found = await self._store.questions_by_id(ids)
            unknown = [i for i in ids if i not in found]
            if unknown:
                raise InvalidField(
                    "question_ids", f"unknown question ids: {', '.join(unknown)}", reason="QUESTION_NOT_FOUND"
                )
            questions = [found[i] for i in ids]
        else:
            questions = await self._bank_questions(scope)
        snapshots = [q.snapshot() for q in questions]
        package, _ = await self._store.add_version(
            scope,
            name,
            description,
            snapshots,
            domain.version_hash(scope, snapshots),
            principal.sub,
            publish=False,
            reuse_published=False,
        )
        return package

    async def publish(self, principal: Principal, package_id: str) -> Package:
        principal.require_role("admin")
        package = await self._store.publish(parse_uuid("package_id", package_id))
        if package is None:
            raise NotFound("no package with this id", reason="PACKAGE_NOT_FOUND", field="package_id")
        return package

    async def generate(
        self,
        principal: Principal,
        scope_kind: str,
        scope_data: dict[str, Any] | None,
        name: str,
        description: str,
    ) -> tuple[Package, bool]:
        principal.require_role("admin")
        scope = domain.parse_scope(scope_kind, scope_data)
        check_text("name", name, 200, required=False)
        check_text("description", description, 2000, required=False)
        snapshots = [q.snapshot() for q in await self._bank_questions(scope)]
        package, created = await self._store.add_version(
            scope,
            name or domain.default_name(scope),
            description,
            snapshots,
            domain.version_hash(scope, snapshots),
            principal.sub,
            publish=True,
            reuse_published=True,
        )
        self._metrics.generated.labels("created" if created else "unchanged").inc()
        return package, created

    async def _bank_questions(self, scope: Scope) -> list[Question]:
        questions = await self._store.bank_matching(scope)
        if not questions:
            raise InvalidField(
                "scope_data", "no question in the bank matches this scope", reason="EMPTY_SCOPE"
            )
        return questions
