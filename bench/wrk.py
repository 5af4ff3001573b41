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


# Each request POSTs the next prepared body (each used once) with the token on the same line of the
# token file (cycled when there are fewer tokens than bodies): a body per device and batch.
_PREPARED_SCRIPT = """
local bodies, tokens = {}, {}
for line in io.lines("BODIES") do bodies[#bodies + 1] = line end
for line in io.lines("TOKENS") do tokens[#tokens + 1] = line end
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local n = 0
request = function()
  n = n + 1
  local i = ((n - 1) * THREADS + tid - 1) % #bodies + 1
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[(i - 1) % #tokens + 1]}
  return wrk.format("POST", "PATH", headers, bodies[i])
end
"""


def post_prepared(
    base_url: str, path: str, bodies: list[bytes], tokens: list[str], seconds: float, connections: int
) -> WrkResult:
    """POSTs `bodies` (one JSON document each, no newlines) to `path`, the i-th with tokens[i]."""
    threads = 2
    with tempfile.TemporaryDirectory() as folder:
        body_file, token_file = Path(folder) / "bodies.jsonl", Path(folder) / "tokens.txt"
        body_file.write_bytes(b"\n".join(bodies) + b"\n")
        token_file.write_text("\n".join(tokens) + "\n")
        script = (
            _PREPARED_SCRIPT.replace("BODIES", str(body_file))
            .replace("TOKENS", str(token_file))
            .replace("THREADS", str(threads))
            .replace("PATH", path)
        )
        return run(f"{base_url}{path}", seconds, connections, {}, script, threads)
