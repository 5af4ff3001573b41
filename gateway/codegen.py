"""Generates the Python stubs, the descriptor set Envoy loads and the OpenAPI document, from protos/.

The stubs are committed (so the package imports without a build step); `--check` regenerates them
into a temporary folder and fails when the committed copy drifted from protos/. The descriptor set
is a build product (git-ignored) and is rewritten every time.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

from gateway import openapi

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
PYTHON_OUT = ROOT / "gen" / "python"
DESCRIPTOR_OUT = ROOT / "gateway" / "build" / "studysync.pb"


def _include_dirs() -> list[Path]:
    """protos/, the googleapis protos installed with googleapis-common-protos, and protobuf's own."""
    import google.api.annotations_pb2 as annotations  # installed by googleapis-common-protos

    googleapis = Path(annotations.__file__).resolve().parent.parent.parent
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    return [PROTOS, googleapis, well_known]


def proto_files() -> list[Path]:
    return sorted(PROTOS.rglob("*.proto"))


# Envoy turns error details into JSON only for types it finds in the descriptor set.
ERROR_DETAIL_PROTOS = ["google/rpc/status.proto", "google/rpc/error_details.proto"]


def run_protoc(args: list[str], files: list[str]) -> None:
    includes = [f"-I{d}" for d in _include_dirs()]
    if protoc.main(["protoc", *includes, *args, *files]) != 0:
        raise SystemExit("protoc failed")


def _protoc(args: list[str], extra_files: list[str] | None = None) -> None:
    run_protoc(args, [str(p.relative_to(PROTOS)) for p in proto_files()] + (extra_files or []))


def generate_python(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _protoc([f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}"])


def generate_descriptor(out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    _protoc(
        ["--include_imports", "--include_source_info", f"--descriptor_set_out={out}"], ERROR_DETAIL_PROTOS
    )


def drifted_files(committed: Path) -> list[str]:
    """Paths (relative to gen/python) whose committed content differs from a fresh generation."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate_python(fresh)
        fresh_files = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()}
        old_files = {p.relative_to(committed) for p in committed.rglob("*") if p.is_file()}
        old_files = {p for p in old_files if "__pycache__" not in p.parts}
        changed = {
            p for p in fresh_files & old_files if not filecmp.cmp(fresh / p, committed / p, shallow=False)
        }
        return sorted(str(p) for p in (fresh_files ^ old_files) | changed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if gen/python drifted from protos/")
    args = parser.parse_args()
    if args.check:
        drift = drifted_files(PYTHON_OUT)
        for path in drift:
            print(f"drifted: gen/python/{path}", file=sys.stderr)
        return 1 if drift else 0
    generate_python(PYTHON_OUT)
    generate_descriptor(DESCRIPTOR_OUT)
    openapi.generate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
