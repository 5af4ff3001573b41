"""A schemathesis check of ours (loaded with SCHEMATHESIS_HOOKS): every 4xx is JSON naming the problem."""

from __future__ import annotations

import schemathesis


@schemathesis.check
def errors_are_json_naming_the_problem(ctx, response, case):
    if not 400 <= response.status_code < 500 or case.method.upper() == "HEAD":
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), (
        f"{response.status_code} is not JSON: {response.headers.get('content-type')}"
    )
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("code"), int), f"not a Status: {body!r}"
    assert body.get("message"), f"no message: {body!r}"
    assert "Traceback" not in response.text and "Exception" not in body["message"], body["message"]
    for detail in body.get("details") or []:
        if detail.get("@type", "").endswith("google.rpc.ErrorInfo"):
            assert detail.get("reason", "").isupper(), f"reason is not UPPER_SNAKE: {detail!r}"
    return None
