"""The packages use cases: what each RPC does, in domain terms (no gRPC, no SQL)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from services.packages import domain
from services.packages.domain import Package, PackageSummary, Question, Scope
from services.packages.repository import PackagesRepository
from services.runtime import paging
from services.runtime.auth import Principal
from services.runtime.errors import FailedPrecondition, InvalidField, NotFound
from services.runtime.scope import SCOPE_KINDS, SCOPE_TAGS
from services.runtime.validation import check_text, parse_uuid

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Comparison:
    current: list[tuple[str, str]]
    stale: list[tuple[str, str, PackageSummary]]
    gone: list[tuple[str, str]]
    new_packages: list[PackageSummary]
    next_page_token: str = ""


@dataclass(frozen=True)
class Conditional:
    """The answer to a conditional GET: the validator headers, and the package unless it is a 304."""

    headers: tuple[tuple[str, str], ...]
    package: Package | None


class PackagesMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.downloads = Counter(
            "studysync_package_downloads",
            "Package GETs by HTTP result (200 full, 304 not modified).",
            ["result"],
            registry=registry,
        )
        self.generated = Counter(
            "studysync_package_generate",
            "Generate calls by outcome (created / unchanged).",
            ["outcome"],
            registry=registry,
        )


def _filters(year_id: int | None, block_id: int | None, theme_id: int | None) -> dict[str, int]:
    filters = {"year_id": year_id, "block_id": block_id, "theme_id": theme_id}
    for key, value in filters.items():
        if value is not None and value < 1:
            raise InvalidField(key, "must be a positive integer")
    return {k: v for k, v in filters.items() if v is not None}


def _scope_filter(scope: str) -> str | None:
    if scope and scope not in SCOPE_KINDS:
        raise InvalidField("scope", f"must be one of {', '.join(SCOPE_KINDS)}")
    return scope or None


def _encode_page(summary: PackageSummary) -> str:
    return paging.encode_token(
        f"{summary.published_at.isoformat() if summary.published_at else ''}|{summary.package_id}"
    )


def _decode_page(token: str) -> tuple[datetime, uuid.UUID] | None:
    if not token:
        return None
    moment, _, package_id = paging.decode_token(token).partition("|")
    try:
        return datetime.fromisoformat(moment), uuid.UUID(package_id)
    except ValueError:
        raise paging.not_issued() from None


def _encode_new_page(summary: PackageSummary) -> str:
    return paging.encode_token(f"n1|{summary.scope}|{summary.package_id}")


def _decode_new_page(token: str) -> tuple[str, str] | None:
    """The (scope, package_id) after which compare's `new_packages` continue."""
    if not token:
        return None
    try:
        version, scope, package_id = paging.decode_token(token).split("|")
        if version != "n1" or scope not in SCOPE_KINDS:
            raise ValueError
        return scope, str(uuid.UUID(package_id))
    except ValueError:
        raise paging.not_issued() from None


def _validators(version_hash: str) -> tuple[tuple[str, str], ...]:
    """The same headers on 200, 304 and HEAD (RFC 9110 §15.4.5)."""
    return (("etag", domain.etag(version_hash)), ("cache-control", domain.CACHE_CONTROL))


def _not_published() -> NotFound:
    return NotFound("no published package with this id", reason="PACKAGE_NOT_FOUND", field="package_id")


class PackagesUseCases:
    def __init__(self, repository: PackagesRepository, metrics: PackagesMetrics) -> None:
        self._repository = repository
        self._metrics = metrics

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
        limit = paging.page_limit(page_size, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)
        found = await self._repository.list_published(
            _scope_filter(scope), _filters(year_id, block_id, theme_id), limit + 1, _decode_page(page_token)
        )
        page = found[:limit]
        return page, _encode_page(page[-1]) if len(found) > limit else ""

    async def conditional_get(self, package_id: str, if_none_match: str | None) -> Conditional:
        """A revalidation reads only the stored hash: no questions are loaded and nothing is hashed.
        A plain GET reads the package once."""
        key = parse_uuid("package_id", package_id)
        if if_none_match is not None:
            version_hash = await self._repository.validator(key)
            if version_hash is None:
                raise _not_published()
            if domain.if_none_match_hits(if_none_match, version_hash):
                self._metrics.downloads.labels("304").inc()
                return Conditional(_validators(version_hash), None)
        package = await self._repository.package(key)
        if package is None or not package.is_published:
            raise _not_published()
        self._metrics.downloads.labels("200").inc()
        return Conditional(_validators(package.summary.version_hash), package)

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
        limit = paging.page_limit(page_size, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)
        after = _decode_new_page(page_token)
        if len(held) > domain.MAX_HELD:
            raise InvalidField("held", f"must hold at most {domain.MAX_HELD} packages")
        ids = [parse_uuid(f"held[{n}].package_id", package_id) for n, (package_id, _) in enumerate(held)]
        known = await self._repository.summaries_by_id(ids)
        scopes = {(s.scope, key) for s, published, key in known.values() if published}
        latest = await self._repository.latest_published(scope_keys=sorted(scopes))
        current, stale, gone = [], [], []
        # Scopes the device holds a valid copy of (current or stale); a gone copy's scope is offered anew.
        held_scopes: set[tuple[str, str]] = set()
        for (package_id, version_hash), key in zip(held, ids, strict=True):
            entry = known.get(str(key))
            if entry is None or not entry[1] or entry[0].version_hash != version_hash:
                gone.append((package_id, version_hash))
                continue
            scope_id = (entry[0].scope, entry[2])
            held_scopes.add(scope_id)
            newest = latest[scope_id]
            if newest.package_id == entry[0].package_id:
                current.append((package_id, version_hash))
            else:
                stale.append((package_id, version_hash, newest))
        matching = await self._repository.latest_published(
            _scope_filter(scope), _filters(year_id, block_id, theme_id)
        )
        new = sorted(
            (s for scope_id, s in matching.items() if scope_id not in held_scopes),
            key=lambda s: (s.scope, s.package_id),
        )
        if after is not None:
            new = [s for s in new if (s.scope, s.package_id) > after]
        token = _encode_new_page(new[limit - 1]) if len(new) > limit else ""
        return Comparison(current, stale, gone, new[:limit], token)

    async def questions(self, question_ids: list[str], package_id: str) -> list[Question]:
        """The sync service's one call per batch: bank questions by id, or a published package's snapshot."""
        if bool(question_ids) == bool(package_id):
            raise InvalidField("question_ids", "set exactly one of question_ids and package_id")
        if package_id:
            package = await self._repository.package(parse_uuid("package_id", package_id))
            if package is None:
                raise NotFound("no package with this id", reason="PACKAGE_NOT_FOUND", field="package_id")
            if not package.is_published:  # a draft may still change: nothing is scored against it
                raise FailedPrecondition(
                    "the package is not published", reason="PACKAGE_NOT_PUBLISHED", field="package_id"
                )
            tags = package.summary.scope_data
            return [Question(**q, **{k: tags.get(k) for k in SCOPE_TAGS}) for q in package.questions]
        ids = domain.parse_ids("question_ids", question_ids)
        found = await self._repository.questions_by_id(ids)
        return [found[i] for i in ids if i in found]

    # -- admin

    async def import_questions(self, principal: Principal, questions: list[Question]) -> list[Question]:
        principal.require_role("admin")
        if not 1 <= len(questions) <= domain.MAX_QUESTIONS_PER_CALL:
            raise InvalidField("questions", f"must hold 1 to {domain.MAX_QUESTIONS_PER_CALL} questions")
        valid = [domain.validate_question(q, f"questions[{n}]") for n, q in enumerate(questions)]
        if len({q.question_id for q in valid}) != len(valid):
            raise InvalidField("questions", "must not repeat a question_id")
        return await self._repository.upsert_questions(valid)

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
            found = await self._repository.questions_by_id(ids)
            unknown = [i for i in ids if i not in found]
            if unknown:
                raise InvalidField(
                    "question_ids", f"unknown question ids: {', '.join(unknown)}", reason="QUESTION_NOT_FOUND"
                )
            questions = [found[i] for i in ids]
        else:
            questions = await self._bank_questions(scope)
        snapshots = [q.snapshot() for q in questions]
        package, _ = await self._repository.add_version(
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
        package = await self._repository.publish(parse_uuid("package_id", package_id))
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
        primary = SCOPE_KINDS[scope.kind]
        others = ", ".join(f"{k.removesuffix('_id')} {v}" for k, v in scope.data.items() if k != primary)
        label = f"{scope.kind.title()} {scope.data[primary]}" + (f" ({others})" if others else "")
        package, created = await self._repository.add_version(
            scope,
            name or label,
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
        questions = await self._repository.bank_matching(scope)
        if not questions:
            raise InvalidField(
                "scope_data", "no question in the bank matches this scope", reason="EMPTY_SCOPE"
            )
        return questions
