"""Runs buf (from npm) on protos/ with no network: the google/api and google/rpc protos come from the
installed googleapis-common-protos package, copied into a git-ignored second buf module.

    python scripts/buf_setup.py            # buf lint
    python scripts/buf_setup.py build -o build/studysync.binpb
    python scripts/buf_setup.py breaking-against main

`buf breaking --against '.git#branch=main'` cannot build main by itself (the google protos are not in
git), so `breaking-against REF` exports REF's buf.yaml and protos/, adds the google protos, and
compares with that.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THIRD_PARTY = ROOT / "build" / "third_party"
TOOLS = ROOT / "tools"
GOOGLE_PACKAGES = ("api", "rpc")


def _google_dir(package: str) -> Path:
    """The folder of `google.<package>` that holds its .proto files (google is a namespace package)."""
    try:
        spec = importlib.util.find_spec(f"google.{package}")
    except ModuleNotFoundError:  # not even the google namespace
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        if any(Path(location).glob("*.proto")):
            return Path(location)
    raise RuntimeError(f"no google/{package}/*.proto: install googleapis-common-protos (pip install -e .)")


def copy_google_protos(dest: Path = THIRD_PARTY) -> None:
    """Copies google/api/*.proto and google/rpc/*.proto into `dest` (unchanged files are left alone)."""
    for package in GOOGLE_PACKAGES:
        target = dest / "google" / package
        target.mkdir(parents=True, exist_ok=True)
        for proto in sorted(_google_dir(package).glob("*.proto")):
            out = target / proto.name
            if not out.exists() or out.read_bytes() != proto.read_bytes():
                shutil.copyfile(proto, out)


def buf_binary() -> Path:
    """tools/node_modules/.bin/buf, installed from tools/package-lock.json (`npm ci`) if missing."""
    binary = TOOLS / "node_modules" / ".bin" / "buf"
    if not binary.exists():
        subprocess.run(["npm", "ci", "--prefix", str(TOOLS), "--no-audit", "--no-fund"], check=True)
    return binary


def run_buf(args: list[str]) -> subprocess.CompletedProcess[str]:
    """`buf ARGS` in the repository root, after copying the google protos; output captured."""
    copy_google_protos()
    return subprocess.run(
        [str(buf_binary()), *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def export_workspace(ref: str, dest: Path) -> Path:
    """The buf workspace as commit `ref` has it (buf.yaml, protos/) in `dest`, with the google protos."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "buf.yaml", "protos"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    copy_google_protos(dest / "build" / "third_party")
    return dest


def breaking(against: Path, workspace: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`buf breaking` of `workspace` against another workspace directory, one JSON finding a line."""
    copy_google_protos(workspace / "build" / "third_party")
    # Relative to the root, so findings in this repository read `protos/studysync/…`.
    target = os.path.relpath(workspace, ROOT)
    return run_buf(["breaking", target, "--against", str(against), "--error-format=json"])


def breaking_against(ref: str) -> subprocess.CompletedProcess[str]:
    """`buf breaking` of the working tree against commit `ref` (a branch, a tag, a sha)."""
    with tempfile.TemporaryDirectory() as tmp:
        return breaking(export_workspace(ref, Path(tmp)))


if __name__ == "__main__":
    try:
        if sys.argv[1:2] == ["breaking-against"] and len(sys.argv) == 3:
            result = breaking_against(sys.argv[2])
        else:
            result = run_buf(sys.argv[1:] or ["lint"])
    except (RuntimeError, subprocess.CalledProcessError) as error:
        sys.exit(f"buf_setup: {error}")
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    sys.exit(result.returncode)
