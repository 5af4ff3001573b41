"""Hypothesis throws hostile batch bodies at the real gateway: never a 5xx, errors are JSON and name
the field where one is at fault, and a batch is never half written (what was answered `ok`/`acked`
is stored, what was refused is not)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.faults.conftest import Counts, stored_attempts, stored_progress
from tests.helpers import new_attempt

pytestmark = pytest.mark.faults

HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "\u0000", "a\u0000b", "x" * 129, "x" * 5000, "\udc80"]),
)
HOSTILE_NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 2**63, 0]),
)
HOSTILE_TIME = st.one_of(
    st.sampled_from(
        [
            "2026-01-29T10:00:00Z",
            "9999-12-31T23:59:59-01:00",
            "0001-01-01T00:00:00+01:00",
            "2026-02-30T10:00:00Z",
            "2026-01-29T10:00:00",
            "2099-01-01T00:00:00Z",
            "2026-01-29T10:00:00.1234567890123456789Z",
            "",
        ]
    ),
    st.text(max_size=30),
)
JSON_LEAF = st.one_of(st.none(), st.booleans(), HOSTILE_NUMBER, HOSTILE_TEXT)
HOSTILE_JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(HOSTILE_TEXT, inner, max_size=3)),
    max_leaves=60,
)
ANYTHING = st.one_of(HOSTILE_JSON, HOSTILE_TEXT, HOSTILE_NUMBER)


def _maybe(valid: st.SearchStrategy, hostile: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly valid values, so batches mix good and bad items (most bad ones of the right JSON type,
    which reach the service; the rest test the gateway's own refusals)."""
    return st.one_of(valid, valid, valid, valid, hostile)


PROGRESS_ITEM = st.fixed_dictionaries(
    {
        "activity_type": _maybe(st.just("quiz"), st.one_of(HOSTILE_TEXT, HOSTILE_TEXT, ANYTHING)),
        "content_id": _maybe(st.just("c-1"), st.one_of(HOSTILE_TEXT, HOSTILE_TEXT, ANYTHING)),
        "score": _maybe(st.just(1), st.one_of(HOSTILE_NUMBER, HOSTILE_NUMBER, ANYTHING)),
        "timestamp": _maybe(st.just("2026-01-29T10:00:00Z"), st.one_of(HOSTILE_TIME, HOSTILE_TIME, ANYTHING)),
    },
    optional={
        "duration_seconds": _maybe(st.just(3.5), ANYTHING),
        "meta_data": _maybe(st.just({"level": 2}), st.dictionaries(HOSTILE_TEXT, HOSTILE_JSON, max_size=3)),
        "idempotency_key": ANYTHING,  # replaces the unique key the test sets
    },
)

SYNC_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "selected_option_index": st.one_of(HOSTILE_NUMBER, ANYTHING),
        "answered_at": st.one_of(HOSTILE_TIME, HOSTILE_TEXT),
        "question_id": st.one_of(HOSTILE_TEXT, st.just(str(uuid.UUID(int=0)))),
        "payload_hash": HOSTILE_TEXT,
        "offline_session_id": HOSTILE_TEXT,
        "client_attempt_id": HOSTILE_TEXT,
    },
)


def _settings():
    return settings(
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=False,
    )


def _check_error(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    body = response.json()
    assert isinstance(body, dict) and body.get("message") is not None, body
    assert "Traceback" not in response.text and "Unexpected <class" not in response.text
    for detail in (
        body.get("details") or []
    ):  # a service's error: ErrorInfo names the field when one is at fault
        if detail.get("reason") == "INVALID_FIELD":
            assert detail["metadata"].get("field"), body


@pytest.fixture(scope="module")
def fuzz_device(fault_stack):
    user = f"fuzz-{uuid.uuid4().hex[:8]}"
    headers = {
        "Authorization": f"Bearer {fault_stack.token(user, ['fuzz-kid'])}",
        "content-type": "application/json",
    }
    with httpx.Client(base_url=fault_stack.http_url, timeout=30) as http:
        yield http, headers


@pytest.fixture(scope="module")
def fuzz_counts() -> Counts:
    return Counts("hypothesis hostile bodies")


@_settings()
@given(
    items=st.lists(PROGRESS_ITEM, min_size=1, max_size=6),
    extra=st.dictionaries(st.text(max_size=8), ANYTHING, max_size=2),
)
def test_hostile_progress_batches_are_never_5xx_nor_half_written(fuzz_device, fuzz_counts, items, extra):
    http, headers = fuzz_device
    keys = [uuid.uuid4().hex for _ in items]
    body_items = [{"idempotency_key": key, **item} for key, item in zip(keys, items, strict=True)]
    body = {**extra, "profile_id": "fuzz-kid", "items": body_items}
    response = http.post("/api/v1/progress/batch", content=json.dumps(body, default=str), headers=headers)
    fuzz_counts.saw(response.status_code)
    if response.status_code != 200:
        _check_error(response)
        return
    results = response.json()["results"]
    ours = [i["idempotency_key"] for i in body_items if i["idempotency_key"] in keys]
    stored = stored_progress(http, headers, "fuzz-kid", ours, fuzz_counts) if ours else {}
    for item, result in zip(body_items, results, strict=True):
        fuzz_counts.sent += 1
        if result["status"] == "error":
            assert result["error"].split(":")[0], result  # "field: problem"
            assert result["error_code"]
            assert item["idempotency_key"] not in stored, (item, result)  # refused means not stored
        elif item["idempotency_key"] in keys:  # our unique key: the answer must be what is stored
            assert stored.get(item["idempotency_key"]) == result["server_id"], (item, result)
            fuzz_counts.stored += 1


@pytest.fixture(scope="module")
def fuzz_question(fault_stack, questions) -> str:
    return questions[0]


@_settings()
@given(changes=st.lists(st.one_of(st.just({}), st.just({}), SYNC_FIELDS), min_size=1, max_size=5))
def test_hostile_attempt_batches_are_never_5xx_nor_half_written(
    fuzz_device, fuzz_counts, fuzz_question, changes
):
    http, headers = fuzz_device
    attempts = []
    for change in changes:
        attempts.append(
            {
                **new_attempt(fuzz_question),
                **change,
            }
        )
    response = http.post(
        "/api/v1/sync/attempts:batch",
        content=json.dumps({"attempts": attempts}, default=str),
        headers=headers,
    )
    fuzz_counts.saw(response.status_code)
    if response.status_code != 200:
        _check_error(response)
        return
    results = response.json()["results"]
    stored = stored_attempts(http, headers, [a["idempotency_key"] for a in attempts], fuzz_counts)
    for sent, result in zip(attempts, results, strict=True):
        fuzz_counts.sent += 1
        if result["status"] == "rejected":
            assert result["error_code"] and result["error_message"], result
            assert sent["idempotency_key"] not in stored, (sent, result)
        else:
            assert stored.get(sent["idempotency_key"]) == result["server_attempt_id"], (sent, result)
            fuzz_counts.stored += 1


def test_report_the_fuzzing_counts(fuzz_counts, counts):
    """Folds the fuzzing totals into the suite's table (sent items, and how many were stored)."""
    counts.name = fuzz_counts.name
    counts.sent, counts.stored, counts.statuses = fuzz_counts.sent, fuzz_counts.stored, fuzz_counts.statuses
    assert "500" not in counts.statuses
