"""HTTP load from wrk (Debian's `wrk`, written in C), so the load generator costs little of the 2 cores
that Envoy, the services and PostgreSQL share."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p99_seconds: float
    bad_responses: int  # non-2xx/3xx and socket errors


def available() -> bool:
    return shutil.which("wrk") is not None


def run(
    url: str,
    seconds: float,
    connections: int,
    headers: dict[str, str],
    script: str | None = None,
    threads: int = 2,
) -> WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as folder:
        if script:
            path = Path(folder) / "script.lua"
            path.write_text(script)
            command += ["-s", str(path)]
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", out)
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    bad += sum(int(n) for n in errors.groups()) if errors else 0
    return WrkResult(rate, float(p99.group(1)) * _UNITS[p99.group(2)] if p99 else 0.0, bad)
