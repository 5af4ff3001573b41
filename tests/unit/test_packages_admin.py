"""The admin side without a server: question files and the sample bank that `make run` loads."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from clients.packages_admin import SAMPLE_BANK, read_questions
from services.packages.domain import Question, validate_question
from services.packages.servicer import question_from_proto

ID = "550e8400-e29b-41d4-a716-446655440000"


def test_a_json_file_is_a_list_or_an_object_with_questions(tmp_path: Path):
    item = {"question_id": ID, "stem": "Q?", "options": ["a", "b"], "correct_index": 1, "block_id": 2}
    for n, content in enumerate(([item], {"questions": [item]})):
        path = tmp_path / f"bank{n}.json"
        path.write_text(json.dumps(content))
        [question] = read_questions(path)
        assert (question.question_id, list(question.options), question.correct_index) == (ID, ["a", "b"], 1)
        assert question.block_id == 2 and not question.HasField("year_id")


def test_a_csv_file_takes_up_to_six_option_columns_and_optional_tags(tmp_path: Path):
    path = tmp_path / "bank.csv"
    path.write_text(
        "question_id,stem,option_1,option_2,option_3,option_4,option_5,option_6,correct_index,"
        "explanation,program,year_id,block_id,theme_id\n"
        f'{ID},"Which one, really?",A,B,C,,,,2,Because.,mbbs,1,2,\n'
    )
    [question] = read_questions(path)
    assert question.stem == "Which one, really?" and list(question.options) == ["A", "B", "C"]
    assert (question.program, question.year_id, question.block_id) == ("mbbs", 1, 2)
    assert not question.HasField("theme_id")


@pytest.mark.parametrize(
    ("suffix", "content", "where"),
    [
        (".csv", f"question_id,option_1,option_2,correct_index\n{ID},a,b,0\n", "line 2: no 'stem' column"),
        (".csv", f"question_id,stem,option_1,option_2,correct_index\n{ID},Q,a,b,first\n", "line 2:"),
        (".json", json.dumps({"questions": [{"question_id": ID}, {"colour": "red"}]}), "questions[1]:"),
        (".json", json.dumps({"items": []}), "a list of questions"),
    ],
    ids=["csv-missing-column", "csv-bad-number", "json-unknown-field", "json-no-list"],
)
def test_a_malformed_file_is_a_value_error_naming_the_entry(tmp_path: Path, suffix, content, where):
    path = tmp_path / f"bank{suffix}"
    path.write_text(content)
    with pytest.raises(ValueError, match=re.escape(where)):
        read_questions(path)


def test_the_sample_bank_is_valid_and_covers_two_years_four_blocks_eight_themes():
    questions = [question_from_proto(q) for q in read_questions(SAMPLE_BANK)]
    valid: list[Question] = [validate_question(q, f"questions[{n}]") for n, q in enumerate(questions)]
    assert len(valid) == 40 and len({q.question_id for q in valid}) == 40
    assert all(str(uuid.UUID(q.question_id)) == q.question_id for q in questions)  # already canonical
    assert {q.year_id for q in valid} == {1, 2}
    blocks = {(q.year_id, q.block_id) for q in valid}
    assert len(blocks) == 4 and len({q.theme_id for q in valid}) == 8
    assert all(q.program == "mbbs" and q.explanation for q in valid)
    assert {q.correct_index for q in valid} == {0, 1, 2, 3}  # the right answer is not always in one place


def test_listed_scope_data_has_integers_and_sorted_keys():
    from google.protobuf import struct_pb2

    from clients.packages_admin import scope_data_text

    data = struct_pb2.Struct()
    data.update({"year_id": 2, "block_id": 5, "ratio": 0.5, "tags": [1, "a"]})
    assert scope_data_text(data) == '{"block_id": 5, "ratio": 0.5, "tags": [1, "a"], "year_id": 2}'
