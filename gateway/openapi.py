"""The OpenAPI (Swagger 2.0) document of the REST face, generated from protos/.

grpc-gateway's `protoc-gen-swagger` (Debian's `golang-grpc-gateway`) turns each service's
`google.api.http` routes and proto comments into paths and definitions. It predates proto3
`optional`, so it runs behind a one-line shim that only declares that support (the JSON of an
optional field is the same as a plain one). `finish()` then merges the three services into one
document and adds what no proto annotation of that generator can say: the bearer scheme, the JSON
error body of every failure, and the HTTP caching exchange Envoy adds to package downloads (ETag,
If-None-Match → 304, HEAD). Field comments that start with `Required.` mark the field required.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from google.protobuf.compiler import plugin_pb2

GENERATOR = "protoc-gen-swagger"
SERVICES = ("progress", "packages", "sync")
OPENAPI_OUT = Path(__file__).resolve().parent.parent / "gen" / "openapi" / "studysync.swagger.json"

Doc = dict[str, Any]

ERROR_DEFINITIONS: Doc = {
    "Status": {
        "type": "object",
        "description": "Every error body, whether a service or the gateway refused the request: "
        "a google.rpc.Status in JSON. `details` holds a google.rpc.ErrorInfo whose `reason` says "
        "what went wrong (UPPER_SNAKE) and whose `metadata.field` names the field at fault.",
        "properties": {
            "code": {"type": "integer", "format": "int32", "description": "The gRPC status code."},
            "message": {"type": "string", "description": "A sentence for a developer; never internals."},
            "details": {"type": "array", "items": {"$ref": "#/definitions/ErrorInfo"}},
        },
        "required": ["code", "message"],
    },
    "ErrorInfo": {
        "type": "object",
        "description": "Why a request failed (AIP-193).",
        "properties": {
            "@type": {"type": "string", "enum": ["type.googleapis.com/google.rpc.ErrorInfo"]},
            "reason": {"type": "string", "description": "UPPER_SNAKE reason, e.g. INVALID_FIELD."},
            "domain": {"type": "string", "description": "The service that refused, e.g. sync.studysync"},
            "metadata": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "`field`: the request field at fault, where one is.",
            },
        },
    },
}

# What each HTTP status means here (README "Errors"); every operation may answer these.
ERROR_RESPONSES = {
    "400": "A field is invalid; `details[0].metadata.field` names it.",
    "401": "The bearer token is missing, expired or not signed by StudySync.",
    "403": "The token may not act for this profile, or lacks the role.",
    "413": "The request body is over the gateway's limit.",
    "429": "Rate limited: retry after `Retry-After` seconds.",
    "503": "A dependency is unavailable: retry; every item is idempotent.",
}

ETAG_HEADERS = {
    "ETag": {"type": "string", "description": 'Strong tag: `"<version_hash>"`.'},
    "Cache-Control": {"type": "string", "description": "`private, max-age=31536000, immutable`."},
}

IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "type": "string",
    "description": "ETags the client holds (a list, `*`, or `W/` tags): a match answers 304.",
}


def generate(out: Path = OPENAPI_OUT) -> Doc:
    """Runs protoc-gen-swagger over each service's protos and writes the finished document."""
    document = finish([_swagger_of(service) for service in SERVICES])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(document))
    return document


def render(document: Doc) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def fresh_document() -> str:
    """The document as `make gen` would write it now, for the drift check."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "studysync.swagger.json"
        generate(out)
        return out.read_text()


def generator_path() -> str:
    found = shutil.which(GENERATOR)
    if not found:
        raise SystemExit(f"{GENERATOR} not found: apt-get install golang-grpc-gateway")
    return found


def _swagger_of(service: str) -> Doc:
    from gateway import codegen  # imports this module: resolved at call time

    generator_path()  # fail with the install hint before protoc's own message
    with tempfile.TemporaryDirectory() as tmp:
        shim = Path(tmp) / GENERATOR
        shim.write_text(f"#!/bin/sh\nexec '{sys.executable}' -m gateway.openapi --plugin-shim\n")
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        files = sorted(
            str(p.relative_to(codegen.PROTOS))
            for p in (codegen.PROTOS / "studysync" / service).rglob("*.proto")
        )
        codegen.run_protoc(
            [
                f"--plugin={GENERATOR}={shim}",
                f"--swagger_out=allow_merge=true,merge_file_name={service}:{tmp}",
            ],
            files,
        )
        return json.loads((Path(tmp) / f"{service}.swagger.json").read_text())


def finish(parts: list[Doc]) -> Doc:
    """One document from the per-service ones, with the rules protoc-gen-swagger cannot express."""
    document: Doc = {
        "swagger": "2.0",
        "info": {
            "title": "StudySync REST API",
            "version": "v1",
            "description": "Offline-first learning backend: progress, test packages and attempt sync. "
            "JSON is transcoded by Envoy from the gRPC services; names are the protos' snake_case.",
        },
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "bearer": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Bearer <JWT>` (ES256; claims sub, profiles, roles, exp, iss=studysync).",
            }
        },
        "security": [{"bearer": []}],
        "paths": {},
        "definitions": copy.deepcopy(ERROR_DEFINITIONS),
    }
    for part in parts:
        for name, schema in part.get("definitions", {}).items():
            if document["definitions"].setdefault(name, schema) != schema:
                raise ValueError(f"two services define {name} differently")
        for path, operations in part["paths"].items():
            if path in document["paths"]:
                raise ValueError(f"two services route {path}")
            document["paths"][path] = operations
    for schema in document["definitions"].values():
        _mark_required_properties(schema)
    for operations in document["paths"].values():
        for operation in list(operations.values()):
            _finish_operation(operation, document["definitions"])
        if operations.get("get", {}).get("operationId") == "GetTestPackage":
            _add_http_caching(operations)
    return document


def _is_required(described: Doc) -> bool:
    return str(described.get("description", "")).startswith("Required.")


def _mark_required_properties(schema: Doc) -> None:
    required = sorted(name for name, prop in schema.get("properties", {}).items() if _is_required(prop))
    if required:
        schema["required"] = required


def _finish_operation(operation: Doc, definitions: Doc) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query" and _is_required(parameter):
            parameter["required"] = True
        if parameter.get("in") == "body":  # a body of optional fields may be left out, as `{}`
            schema = definitions.get(parameter["schema"].get("$ref", "").rpartition("/")[2], {})
            parameter["required"] = bool(schema.get("required"))
    for status, meaning in ERROR_RESPONSES.items():
        operation["responses"].setdefault(
            status, {"description": meaning, "schema": {"$ref": "#/definitions/Status"}}
        )
    operation["responses"]["default"] = {
        "description": "Any other error, in the same shape.",
        "schema": {"$ref": "#/definitions/Status"},
    }


def _add_http_caching(operations: Doc) -> None:
    """Envoy answers package downloads with a strong ETag, 304 on a match, and HEAD."""
    get = operations["get"]
    get["parameters"].append(IF_NONE_MATCH)
    get["responses"]["200"]["headers"] = ETAG_HEADERS
    get["responses"]["304"] = {
        "description": "Not Modified: the held copy is current; no body.",
        "headers": ETAG_HEADERS,
    }
    get["responses"]["404"] = {
        "description": "No published package has this id.",
        "schema": {"$ref": "#/definitions/Status"},
    }
    head = copy.deepcopy(get)
    head["operationId"] = "HeadTestPackage"
    head["summary"] = "The headers of GetTestPackage (status, ETag, Cache-Control) without a body."
    head["responses"]["200"] = {"description": "The package exists; no body.", "headers": ETAG_HEADERS}
    operations["head"] = head


def _plugin_shim() -> int:
    """Runs the real generator, declaring the proto3 `optional` support it lacks but does not need."""
    import subprocess

    request = sys.stdin.buffer.read()
    result = subprocess.run([generator_path()], input=request, capture_output=True, check=False)
    if result.returncode != 0:
        sys.stderr.buffer.write(result.stderr)
        return result.returncode
    response = plugin_pb2.CodeGeneratorResponse.FromString(result.stdout)
    response.supported_features |= plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--plugin-shim"]:
        sys.exit(_plugin_shim())
    generate()
    print(os.path.relpath(OPENAPI_OUT))
