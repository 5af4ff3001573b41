"""Package rules without a server: the content hash, scopes and questions."""

from __future__ import annotations

import hashlib

import pytest

from services.packages.domain import (
    MAX_SCOPE_ID,
    Question,
    parse_scope,
    validate_question,
    version_hash,
)
from services.runtime.errors import InvalidField

QUESTION = Question("550e8400-e29b-41d4-a716-446655440000", "Which?", ["A", "B"], 1, "Because.")
# Non-ASCII stays UTF-8, a tab and quotes get JSON's short escapes, 12.0 is written 12 (RFC 8785 §3.2).
UNICODE = Question("123e4567-e89b-12d3-a456-426614174000", 'Ünïcødé “q” 🫀\t"x"', ["é", "e"], 0, "")
# (question, scope, scope_data, the canonical form written out by hand: sorted keys, no whitespace, digest)
VECTORS = [
    (
        QUESTION,
        "BLOCK",
        {"year_id": 1, "block_id": 2.0},
        '{"questions":[{"correct_index":1,"explanation":"Because.","options":["A","B"],'
        '"question_id":"550e8400-e29b-41d4-a716-446655440000","stem":"Which?"}],'
        '"scope":"BLOCK","scope_data":{"block_id":2,"year_id":1}}',
        "858c06695ccd6db680806b114d0842baf196e6b701831aee1089f97c3061b127",
    ),
    (
        UNICODE,
        "THEME",
        {"theme_id": 12.0, "program": "mbbs"},
        '{"questions":[{"correct_index":0,"explanation":"","options":["é","e"],'
        '"question_id":"123e4567-e89b-12d3-a456-426614174000","stem":"Ünïcødé “q” 🫀\\t\\"x\\""}],'
        '"scope":"THEME","scope_data":{"program":"mbbs","theme_id":12}}',
        "3f95c78d3bb7e7748b57842c7f2e5d2363b57d12e3fdc2da58543f981bcc741f",
    ),
]


@pytest.mark.parametrize(
    ("question", "kind", "data", "canonical", "digest"), VECTORS, ids=["ascii", "unicode"]
)
def test_version_hash_is_sha256_of_the_rfc8785_form_and_stable(question, kind, data, canonical, digest):
    assert hashlib.sha256(canonical.encode()).hexdigest() == digest
    assert version_hash(parse_scope(kind, data), [question.snapshot()]) == digest


def test_the_hash_covers_question_order_and_every_snapshot_field():
    scope = parse_scope("BLOCK", {"block_id": 2})
    other = Question("123e4567-e89b-12d3-a456-426614174000", "Other?", ["A", "B"], 0, "")
    base = version_hash(scope, [QUESTION.snapshot(), other.snapshot()])
    assert version_hash(scope, [other.snapshot(), QUESTION.snapshot()]) != base
    for change in ({"stem": "x"}, {"options": ["B", "A"]}, {"correct_index": 0}, {"explanation": "x"}):
        edited = Question(**{**QUESTION.__dict__, **change})
        assert version_hash(scope, [edited.snapshot(), other.snapshot()]) != base
    tagged = Question(**{**QUESTION.__dict__, "theme_id": 9, "year_id": 3})  # tags are not content
    assert version_hash(scope, [tagged.snapshot(), other.snapshot()]) == base
    assert (
        version_hash(parse_scope("BLOCK", {"block_id": 3}), [QUESTION.snapshot(), other.snapshot()]) != base
    )


def test_scope_data_key_order_and_number_form_do_not_make_another_scope():
    a = parse_scope("BLOCK", {"year_id": 1, "block_id": 2})
    b = parse_scope("BLOCK", {"block_id": 2.0, "year_id": 1.0})
    assert a.key == b.key == '{"block_id":2,"year_id":1}'


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        ("LESSON", {"block_id": 2}, "scope"),
        ("BLOCK", {}, "scope_data"),
        ("BLOCK", {"year_id": 1}, "scope_data"),
        ("BLOCK", {"block_id": 2, "color": "red"}, "scope_data"),
        ("BLOCK", {"block_id": 2.5}, "scope_data.block_id"),
        ("BLOCK", {"block_id": -1}, "scope_data.block_id"),
        ("BLOCK", {"block_id": MAX_SCOPE_ID + 1}, "scope_data.block_id"),
        ("BLOCK", {"block_id": True}, "scope_data.block_id"),
        ("BLOCK", {"block_id": float("inf")}, "scope_data.block_id"),
        ("PROGRAM", {"program": 7}, "scope_data.program"),
    ],
)
def test_bad_scopes_name_the_field(kind, data, field):
    with pytest.raises(InvalidField) as caught:
        parse_scope(kind, data)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("question", "field"),
    [
        (Question("nope", "Q", ["a", "b"], 0, ""), "questions[0].question_id"),
        (Question(QUESTION.question_id, "", ["a", "b"], 0, ""), "questions[0].stem"),
        (Question(QUESTION.question_id, "Q", ["a"], 0, ""), "questions[0].options"),
        (Question(QUESTION.question_id, "Q", ["a"] * 7, 0, ""), "questions[0].options"),
        (Question(QUESTION.question_id, "Q", ["a", ""], 0, ""), "questions[0].options[1]"),
        (Question(QUESTION.question_id, "Q", ["a", "b"], 2, ""), "questions[0].correct_index"),
        (Question(QUESTION.question_id, "Q", ["a", "b"], 0, "", year_id=0), "questions[0].year_id"),
        (Question(QUESTION.question_id, "Q", ["a", "b"], 0, "", theme_id=2**53), "questions[0].theme_id"),
        (Question(QUESTION.question_id, "Q", ["a", "b"], 0, "x" * 4001), "questions[0].explanation"),
    ],
)
def test_bad_questions_name_the_field(question, field):
    with pytest.raises(InvalidField) as caught:
        validate_question(question, "questions[0]")
    assert caught.value.field == field


def test_the_largest_scope_id_a_json_number_holds_exactly_is_accepted():
    assert parse_scope("BLOCK", {"block_id": float(MAX_SCOPE_ID)}).data == {"block_id": MAX_SCOPE_ID}
