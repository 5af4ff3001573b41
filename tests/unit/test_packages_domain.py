"""Package rules without a server: the content hash, scopes and If-None-Match."""

from __future__ import annotations

import pytest

from services.packages.domain import (
    Question,
    etag,
    if_none_match_hits,
    parse_scope,
    validate_question,
    version_hash,
)
from services.runtime.errors import InvalidField

QUESTION = Question("550e8400-e29b-41d4-a716-446655440000", "Which?", ["A", "B"], 1, "Because.")
# The canonical form written out by hand: sorted keys, no whitespace (RFC 8785).
CANONICAL = (
    '{"questions":[{"correct_index":1,"explanation":"Because.","options":["A","B"],'
    '"question_id":"550e8400-e29b-41d4-a716-446655440000","stem":"Which?"}],'
    '"scope":"BLOCK","scope_data":{"block_id":2,"year_id":1}}'
)
VECTOR = "858c06695ccd6db680806b114d0842baf196e6b701831aee1089f97c3061b127"


def test_version_hash_is_sha256_of_the_rfc8785_form_and_stable():
    import hashlib

    scope = parse_scope("BLOCK", {"year_id": 1, "block_id": 2.0})
    assert hashlib.sha256(CANONICAL.encode()).hexdigest() == VECTOR
    assert version_hash(scope, [QUESTION.snapshot()]) == VECTOR


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
    ],
)
def test_bad_questions_name_the_field(question, field):
    with pytest.raises(InvalidField) as caught:
        validate_question(question, "questions[0]")
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("header", "hit"),
    [
        (None, False),
        ('"abc"', True),
        ('W/"abc"', True),
        ('"zzz", W/"abc"', True),
        ('"zzz" , "yyy"', False),
        ("*", True),
        ('"ab"', False),
        ("abc", False),  # not a quoted entity tag
    ],
)
def test_if_none_match_is_a_weak_comparison_over_a_list(header, hit):
    assert if_none_match_hits(header, "abc") is hit


def test_etag_is_strong_and_quoted():
    assert etag("abc") == '"abc"'
