"""The OpenAPI document is generated from the protos: committed, current, valid, and complete."""

from __future__ import annotations

import json

from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from openapi_spec_validator import validate

from gateway import codegen, openapi


def committed() -> dict:
    return json.loads(openapi.OPENAPI_OUT.read_text())


def test_committed_document_matches_the_protos():
    assert openapi.OPENAPI_OUT.read_text() == openapi.fresh_document(), (
        "run `make gen` and commit gen/openapi"
    )


def test_document_is_valid_swagger_2():
    validate(committed())


def http_routes() -> set[tuple[str, str]]:
    """(method, path) of every google.api.http rule in protos/: what Envoy transcodes."""
    out = codegen.ROOT / "build" / "openapi-check.pb"
    codegen.generate_descriptor(out)
    routes = set()
    for file in descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file:
        for service in file.service:
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                verb = rule.WhichOneof("pattern")
                if verb:
                    routes.add((verb, getattr(rule, verb)))
    return routes


def test_every_rest_route_of_the_protos_is_documented_with_its_comment():
    paths = committed()["paths"]
    routes = http_routes()
    assert len(routes) >= 14
    for verb, path in routes:
        operation = paths[path][verb]
        assert operation.get("summary") or operation.get("description"), (verb, path)


def test_errors_security_and_http_caching_are_described():
    document = committed()
    assert document["securityDefinitions"]["bearer"]["name"] == "Authorization"
    assert document["security"] == [{"bearer": []}]
    assert "ErrorInfo" in json.dumps(document["definitions"]["Status"])
    for operations in document["paths"].values():
        for operation in operations.values():
            assert operation["responses"]["default"]["schema"] == {"$ref": "#/definitions/Status"}
    package = document["paths"]["/api/v1/tests/packages/{package_id}"]
    assert "ETag" in package["get"]["responses"]["200"]["headers"]
    assert "304" in package["get"]["responses"]
    assert any(p["name"] == "If-None-Match" for p in package["get"]["parameters"])
    assert "schema" not in package["head"]["responses"]["200"]


def test_fields_commented_required_are_required():
    item = committed()["definitions"]["v1ProgressItem"]
    assert {"idempotency_key", "activity_type", "content_id", "score", "timestamp"} <= set(item["required"])
    assert "duration_seconds" not in item["required"]
