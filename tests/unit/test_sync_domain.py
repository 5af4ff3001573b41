"""Sync rules without a server: the payload hash the mobile client computes, and attempt checks."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from services.sync.domain import AttemptInput, Rejection, payload_hash, validate_attempt
from tests.helpers import CHECKED_AT, GOOD_ATTEMPT, HASH_TEST_VECTOR


def test_payload_hash_matches_the_test_vector():
    assert payload_hash("2026-01-28T10:00:00Z", "550e8400-e29b-41d4-a716-446655440000", 2) == HASH_TEST_VECTOR


def test_payload_hash_covers_the_strings_exactly_as_sent():
    assert payload_hash("2026-01-28T10:00:00+00:00", GOOD_ATTEMPT.question_id, 2) != HASH_TEST_VECTOR


def test_a_good_attempt_validates():
    valid = validate_attempt(GOOD_ATTEMPT, CHECKED_AT)
    assert (
        valid.idempotency_key == GOOD_ATTEMPT.idempotency_key
        and valid.offline_session_id == GOOD_ATTEMPT.offline_session_id
    )


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"payload_hash": "0" * 64}, "PAYLOAD_HASH_MISMATCH", "payload_hash"),
        ({"payload_hash": HASH_TEST_VECTOR.upper()}, "INVALID_FIELD", "payload_hash"),
        ({"client_attempt_id": "x"}, "INVALID_FIELD", "client_attempt_id"),
        ({"idempotency_key": ""}, "INVALID_FIELD", "idempotency_key"),
        ({"offline_session_id": ""}, "INVALID_FIELD", "offline_session_id"),
        ({"session_id": "423e4567-e89b-12d3-a456-426614174000"}, "INVALID_FIELD", "offline_session_id"),
        ({"question_id": "q1"}, "INVALID_FIELD", "question_id"),
        ({"selected_option_index": -1}, "INVALID_FIELD", "selected_option_index"),
        ({"answered_at": "2026-01-28 10:00"}, "INVALID_FIELD", "answered_at"),
        ({"package_id": "p"}, "INVALID_FIELD", "package_id"),
    ],
)
def test_bad_attempts_are_rejected_naming_the_field(change, code, field):
    with pytest.raises(Rejection) as caught:
        validate_attempt(dataclasses.replace(GOOD_ATTEMPT, **change), CHECKED_AT)
    assert caught.value.code == code
    assert caught.value.message.startswith(field)


@pytest.mark.parametrize(
    ("answered_at", "question_id", "option"),
    [
        ("2026-01-28T10:00:00Z", "550e8400-e29b-41d4-a716-446655440000", 2),
        ("2026-01-28t10:00:00.123456789+05:30", "{550E8400-E29B-41D4-A716-446655440000}", 0),
        ("2025-12-31T23:59:59-00:00", "urn:uuid:550e8400-e29b-41d4-a716-446655440000", 5),
    ],
)
def test_the_fast_hash_of_validated_strings_is_the_rfc8785_hash(answered_at, question_id, option):
    from services.sync.domain import _checked_payload_hash

    assert _checked_payload_hash(answered_at, question_id, option) == payload_hash(
        answered_at, question_id, option
    )
    attempt = dataclasses.replace(
        GOOD_ATTEMPT,
        answered_at=answered_at,
        question_id=question_id,
        selected_option_index=option,
        payload_hash=payload_hash(answered_at, question_id, option),
    )
    assert validate_attempt(attempt, CHECKED_AT).question_id == "550e8400-e29b-41d4-a716-446655440000"


def test_server_ids_are_distinct_version_4_uuids():
    import uuid

    from services.sync.sqlite_store import _random_uuids

    ids = _random_uuids(500)
    assert len(set(ids)) == 500
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in ids)
    assert _random_uuids(0) == []


def test_non_canonical_uuid_text_is_accepted_and_canonicalised():
    valid = validate_attempt(
        dataclasses.replace(GOOD_ATTEMPT, idempotency_key="223E4567E89B12D3A456426614174000"), CHECKED_AT
    )
    assert valid.idempotency_key == "223e4567-e89b-12d3-a456-426614174000"


@pytest.mark.parametrize(
    "answered_at",
    [
        "0001-01-01T00:00:00+01:00",  # valid RFC 3339, but before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "2026-01-28T10:00:00." + "1" * 44 + "Z",  # 65 characters: more than the stored text holds
        "2026-01-28T10:00:00Z\n",  # the hash the client made would not cover the newline
    ],
)
def test_answered_at_that_cannot_be_stored_is_an_invalid_field(answered_at):
    attempt = dataclasses.replace(
        GOOD_ATTEMPT,
        answered_at=answered_at,
        payload_hash=payload_hash(answered_at, GOOD_ATTEMPT.question_id, 2),
    )
    with pytest.raises(Rejection) as caught:
        validate_attempt(attempt, CHECKED_AT)
    assert (caught.value.code, caught.value.message.split(":")[0]) == ("INVALID_FIELD", "answered_at")


def test_answered_at_is_kept_as_the_utc_instant():
    answered_at = "2026-01-28T12:00:00.5+05:00"
    valid = validate_attempt(
        dataclasses.replace(
            GOOD_ATTEMPT,
            answered_at=answered_at,
            payload_hash=payload_hash(answered_at, GOOD_ATTEMPT.question_id, 2),
        ),
        CHECKED_AT,
    )
    assert valid.answered_at.isoformat() == "2026-01-28T07:00:00.500000+00:00"


@pytest.mark.parametrize(
    "spelling",
    [
        " 23e4567e89b12d3a456426614174000",  # int() would read the space
        "2_3e4567e89b12d3a456426614174000",  # and the underscore
        "+23e4567e89b12d3a456426614174000",  # and the sign
        "223e4567-e89b-12d3-a456-42661417400\n",
        "223e4567-e89b-12d3-a456-426614174000\n",  # a `$` anchor lets a trailing newline through
    ],
)
def test_uuids_with_whitespace_underscores_or_signs_are_invalid(spelling):
    with pytest.raises(Rejection) as caught:
        validate_attempt(dataclasses.replace(GOOD_ATTEMPT, client_attempt_id=spelling), CHECKED_AT)
    assert caught.value.message.startswith("client_attempt_id")


@pytest.mark.parametrize("key", ["ik-1", "a,b", " 23e4567e89b12d3a456426614174000", "k" * 128, "~!@#$%^&*()"])
def test_idempotency_keys_are_opaque_printable_text_up_to_128_characters(key):
    assert (
        validate_attempt(dataclasses.replace(GOOD_ATTEMPT, idempotency_key=key), CHECKED_AT).idempotency_key
        == key
    )


@pytest.mark.parametrize("key", ["", "k" * 129, "ik-1\n", "ключ", "ik\x1f1"])
def test_empty_overlong_or_non_ascii_idempotency_keys_are_invalid(key):
    with pytest.raises(Rejection) as caught:
        validate_attempt(dataclasses.replace(GOOD_ATTEMPT, idempotency_key=key), CHECKED_AT)
    assert (caught.value.code, caught.value.message.split(":")[0]) == ("INVALID_FIELD", "idempotency_key")


@pytest.mark.parametrize(
    "field", ["client_attempt_id", "question_id", "selected_option_index", "answered_at", "payload_hash"]
)
def test_a_missing_required_field_is_an_invalid_field_naming_it(field):
    missing = None if field == "selected_option_index" else ""
    with pytest.raises(Rejection) as caught:
        validate_attempt(dataclasses.replace(GOOD_ATTEMPT, **{field: missing}), CHECKED_AT)
    assert (caught.value.code, caught.value.message) == ("INVALID_FIELD", f"{field}: is required")


def test_answered_at_beyond_the_clock_skew_allowance_is_an_invalid_field():
    def at(instant: datetime) -> AttemptInput:
        text = instant.strftime("%Y-%m-%dT%H:%M:%SZ")
        return dataclasses.replace(
            GOOD_ATTEMPT, answered_at=text, payload_hash=payload_hash(text, GOOD_ATTEMPT.question_id, 2)
        )

    validate_attempt(at(CHECKED_AT + timedelta(hours=23)), CHECKED_AT)
    with pytest.raises(Rejection) as caught:
        validate_attempt(at(CHECKED_AT + timedelta(hours=25)), CHECKED_AT)
    assert (caught.value.code, caught.value.message.split(":")[0]) == ("INVALID_FIELD", "answered_at")


def test_client_attempt_id_is_canonicalised_for_storage():
    valid = validate_attempt(
        dataclasses.replace(GOOD_ATTEMPT, client_attempt_id="urn:uuid:123E4567-E89B-12D3-A456-426614174000"),
        CHECKED_AT,
    )
    assert valid.client_attempt_id == "123e4567-e89b-12d3-a456-426614174000"


def test_an_overlong_subject_is_an_invalid_field():
    from services.runtime.errors import InvalidField
    from services.sync.domain import check_user

    check_user("u" * 128)
    with pytest.raises(InvalidField) as caught:
        check_user("u" * 129)
    assert caught.value.field == "sub"


def test_a_new_session_takes_the_scope_its_questions_agree_on():
    from services.sync.domain import agreed_scope

    scope = agreed_scope(None, {"year_id": 2, "block_id": 5, "theme_id": 7})
    scope = agreed_scope(scope, {"year_id": 2, "block_id": 5, "theme_id": 8})
    assert scope == {"year_id": 2, "block_id": 5, "theme_id": None}
