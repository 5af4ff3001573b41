"""schemathesis against the generated OpenAPI document, through Envoy, with a valid admin token.

Checked on every generated request: no 5xx, every response documented and matching its schema and
content type, every 4xx a JSON Status naming the problem (tests/e2e/schemathesis_checks.py).
`make test` runs a bounded number of examples per route; STUDYSYNC_FUZZ_EXAMPLES=500 (as `make soak`
does) runs a long one.

Not checked, on purpose (a gap in the document's precision, not a fault; see the README):
`positive_data_acceptance` and `negative_data_rejection` (the document states field types, not every
rule the services enforce: a schema-valid request may still be a 400 naming the field, and unknown
query parameters are ignored), and `unsupported_method` (a method HTTP does not define is 405, but a
defined one a path does not have, e.g. DELETE, is the transcoder's 404, and 405s carry no `Allow`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "errors_are_json_naming_the_problem",
]


def test_schemathesis_finds_no_server_error_and_no_undocumented_response(stack, tmp_path: Path):
    token = stack.token("fuzz-admin", ["kid-1", "kid-2"], ["admin"])
    examples = os.environ.get("STUDYSYNC_FUZZ_EXAMPLES", "10")
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{stack.http_url}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        examples,
        "--workers",
        "1",
        "--seed",
        os.environ.get("STUDYSYNC_FUZZ_SEED", "20261201"),
        "--no-color",
    ]
    root = str(Path(__file__).resolve().parents[2])  # where `tests.e2e.schemathesis_checks` imports from
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_checks", "PYTHONPATH": root}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    summary = result.stdout[result.stdout.find("SUMMARY") :] if "SUMMARY" in result.stdout else result.stdout
    print(summary[-1500:])
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
