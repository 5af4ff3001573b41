"""Package values and rules: scopes, question validation, content hashes and paging tokens.

No I/O, and nothing of gRPC, SQL or HTTP.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.runtime import paging
from services.runtime.errors import InvalidField
from services.runtime.scope import SCOPE_IDS, SCOPE_KINDS, SCOPE_TAGS
from services.runtime.validation import (
    canonical_json,
    canonical_sha256,
    check_json,
    check_storable,
    check_text,
    parse_uuid,
)

MAX_QUESTIONS_PER_CALL = 1000
MAX_HELD = 500
# scope_data travels as JSON numbers (doubles): larger ids could not be written back exactly, and a
# client recomputing version_hash in JavaScript would get another number.
MAX_SCOPE_ID = 2**53 - 1
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Question:
    question_id: str
    stem: str
    options: list[str]
    correct_index: int
    explanation: str
    program: str | None = None
    year_id: int | None = None
    block_id: int | None = None
    theme_id: int | None = None
    updated_at: datetime | None = None

    def snapshot(self) -> dict[str, Any]:
        """The frozen copy a package holds (exactly the fields of the version hash)."""
        return {
            "question_id": self.question_id,
            "stem": self.stem,
            "options": list(self.options),
            "correct_index": self.correct_index,
            "explanation": self.explanation,
        }

    def tags(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in SCOPE_TAGS}

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any], tags: dict[str, Any]) -> Question:
        """A package's frozen copy of a question, tagged with the package's scope."""
        scope: dict[str, Any] = {key: tags.get(key) for key in SCOPE_TAGS}
        return cls(**snapshot, **scope)


@dataclass(frozen=True)
class BankVersionKeys:
    """The Redis keys where the bank version is published: the last committed version, and the
    count of bank writes not yet published (see bank_versions)."""

    version: str
    writers: str


@dataclass(frozen=True)
class QuestionsRead:
    """What BatchGetQuestions answers: the questions and, for bank questions, the bank version they
    are of (or newer) and where that version is published (None: it is not, keep nothing)."""

    questions: list[Question]
    bank_version: int = 0
    keys: BankVersionKeys | None = None


@dataclass(frozen=True)
class Scope:
    """A validated scope: its kind and its normalised scope_data."""

    kind: str
    data: dict[str, Any]

    @property
    def key(self) -> str:
        """Canonical text of scope_data: equal scopes have equal keys, whatever the key order."""
        return canonical_json(self.data).decode()

    def matches(self, tags: dict[str, Any]) -> bool:
        return all(tags.get(key) == value for key, value in self.data.items())


@dataclass(frozen=True)
class PackageSummary:
    package_id: str
    name: str
    scope: str
    scope_data: dict[str, Any]
    version: int
    version_hash: str
    question_count: int
    published_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class Package:
    summary: PackageSummary
    description: str
    questions: list[dict[str, Any]]
    is_published: bool
    created_by: str
    created_at: datetime


ScopeId = tuple[str, str]  # (scope kind, Scope.key): the versions of one scope


@dataclass(frozen=True)
class KnownPackage:
    """A package as a comparison sees it: its summary, whether it is published, its scope's key."""

    summary: PackageSummary
    is_published: bool
    scope_key: str

    @property
    def scope_id(self) -> ScopeId:
        return (self.summary.scope, self.scope_key)


@dataclass(frozen=True)
class Comparison:
    current: list[tuple[str, str]]
    stale: list[tuple[str, str, PackageSummary]]
    gone: list[tuple[str, str]]
    new_packages: list[PackageSummary]
    next_page_token: str = ""


@dataclass(frozen=True)
class Download:
    """A package read by a client: its version hash, and the package unless the client holds it."""

    version_hash: str
    package: Package | None  # None: the client's copy is current (not modified)


def version_hash(scope: Scope, snapshots: list[dict[str, Any]]) -> str:
    """SHA-256 over RFC 8785 JSON of what defines the content (documented in resources.proto)."""
    return canonical_sha256({"scope": scope.kind, "scope_data": scope.data, "questions": snapshots})


def _scope_id(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidField(field, "must be a positive integer")
    if value != int(value) or not 1 <= value <= MAX_SCOPE_ID:
        raise InvalidField(field, f"must be a positive integer ≤ {MAX_SCOPE_ID}")
    return int(value)


def parse_scope(kind: str, data: dict[str, Any] | None, field: str = "scope_data") -> Scope:
    if kind not in SCOPE_KINDS:
        raise InvalidField("scope", f"must be one of {', '.join(SCOPE_KINDS)}")
    if not data:
        raise InvalidField(field, 'is required (e.g. {"block_id": 2})')
    check_json(field, data)  # the same depth and NUL rule as progress meta_data
    unknown = set(data) - set(SCOPE_TAGS)
    if unknown:
        raise InvalidField(field, f"unknown keys {sorted(unknown)}; allowed: {', '.join(SCOPE_TAGS)}")
    if SCOPE_KINDS[kind] not in data:
        raise InvalidField(field, f"scope {kind} needs '{SCOPE_KINDS[kind]}'")
    normalised: dict[str, Any] = {}
    for key, value in data.items():
        if key == "program":
            if not isinstance(value, str) or not 1 <= len(value) <= 128:
                raise InvalidField(f"{field}.program", "must be a string of 1 to 128 characters")
            check_storable(f"{field}.program", value)
            normalised[key] = value
        else:
            normalised[key] = _scope_id(f"{field}.{key}", value)
    return Scope(kind, dict(sorted(normalised.items())))


def validate_question(question: Question, field: str) -> Question:
    """Checks one imported question; errors name the field, e.g. `questions[3].options`."""
    parse_uuid(f"{field}.question_id", question.question_id)
    check_text(f"{field}.stem", question.stem, 4000)
    if not 2 <= len(question.options) <= 6:
        raise InvalidField(f"{field}.options", "must hold 2 to 6 options")
    for n, option in enumerate(question.options):
        check_text(f"{field}.options[{n}]", option, 1000)
    if not 0 <= question.correct_index < len(question.options):
        raise InvalidField(
            f"{field}.correct_index", f"must be an index into options (0..{len(question.options) - 1})"
        )
    if len(question.explanation) > 4000:
        raise InvalidField(f"{field}.explanation", "must be at most 4000 characters")
    check_storable(f"{field}.explanation", question.explanation)
    if question.program is not None:
        check_text(f"{field}.program", question.program, 128)
    for key in SCOPE_IDS:
        value = getattr(question, key)
        if value is not None and not 1 <= value <= MAX_SCOPE_ID:
            raise InvalidField(f"{field}.{key}", f"must be a positive integer ≤ {MAX_SCOPE_ID}")
    return Question(**{**question.__dict__, "question_id": str(uuid.UUID(question.question_id))})


def parse_ids(field: str, values: list[str], limit: int = MAX_QUESTIONS_PER_CALL) -> list[str]:
    if len(values) > limit:
        raise InvalidField(field, f"must hold at most {limit} ids")
    ids = [str(parse_uuid(f"{field}[{n}]", value)) for n, value in enumerate(values)]
    if len(set(ids)) != len(ids):
        raise InvalidField(field, "must not repeat an id")
    return ids


def check_filters(year_id: int | None, block_id: int | None, theme_id: int | None) -> dict[str, int]:
    filters = {"year_id": year_id, "block_id": block_id, "theme_id": theme_id}
    for key, value in filters.items():
        if value is not None and value < 1:
            raise InvalidField(key, "must be a positive integer")
    return {k: v for k, v in filters.items() if v is not None}


def check_scope_filter(scope: str) -> str | None:
    if scope and scope not in SCOPE_KINDS:
        raise InvalidField("scope", f"must be one of {', '.join(SCOPE_KINDS)}")
    return scope or None


def default_name(scope: Scope) -> str:
    """A generated package's name when the admin gives none, e.g. `Block 2 (year 1)`."""
    primary = SCOPE_KINDS[scope.kind]
    others = ", ".join(f"{k.removesuffix('_id')} {v}" for k, v in scope.data.items() if k != primary)
    return f"{scope.kind.title()} {scope.data[primary]}" + (f" ({others})" if others else "")


def encode_page(summary: PackageSummary) -> str:
    return paging.encode_token(
        f"{summary.published_at.isoformat() if summary.published_at else ''}|{summary.package_id}"
    )


def decode_page(token: str) -> tuple[datetime, uuid.UUID] | None:
    if not token:
        return None
    moment, _, package_id = paging.decode_token(token).partition("|")
    try:
        return datetime.fromisoformat(moment), uuid.UUID(package_id)
    except ValueError:
        raise paging.not_issued() from None


def encode_new_page(summary: PackageSummary) -> str:
    return paging.encode_token(f"n1|{summary.scope}|{summary.package_id}")


def decode_new_page(token: str) -> tuple[str, str] | None:
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
