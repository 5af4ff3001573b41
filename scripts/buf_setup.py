"""Runs buf (from npm) on protos/ with no network: the google/api and google/rpc protos come from the
installed googleapis-common-protos package, copied into a git-ignored second buf module.

    python scripts/buf_setup.py lint
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THIRD_PARTY = ROOT / "build" / "third_party"
TOOLS = ROOT / "tools"


def copy_google_protos(dest: Path = THIRD_PARTY) -> None:
    import google.api.annotations_pb2 as annotations  # installed by googleapis-common-protos

    google = Path(annotations.__file__).resolve().parent.parent
    for package in ("api", "rpc"):
        target = dest / "google" / package
        target.mkdir(parents=True, exist_ok=True)
        for proto in (google / package).glob("*.proto"):
            shutil.copyfile(proto, target / proto.name)


def buf_binary() -> Path:
    binary = TOOLS / "node_modules" / ".bin" / "buf"
    if not binary.exists():
        subprocess.run(["npm", "ci", "--prefix", str(TOOLS), "--no-audit", "--no-fund"], check=True)
    return binary


def run_buf(args: list[str]) -> subprocess.CompletedProcess:
    copy_google_protos()
    return subprocess.run([str(buf_binary()), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


if __name__ == "__main__":
    result = run_buf(sys.argv[1:] or ["lint"])
    sys.stdout.write(result.stdout + result.stderr)
    sys.exit(result.returncode)
