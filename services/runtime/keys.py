"""The dev signing key: an ES256 key pair and its JWKS, made on first run in the state folder.

Envoy's jwt_authn reads the JWKS file; every service verifies tokens against the same file; the
`studysync token` command signs with the private key. Production swaps the files, not the code.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ISSUER = "studysync"
PRIVATE_KEY_FILE = "signing-key.pem"
JWKS_FILE = "jwks.json"
# The sync service's identity towards packages (see write_service_token).
SERVICE_TOKEN_FILE = "service-token.jwt"
SERVICE_TOKEN_TTL = 30 * 86400


def ensure_dev_keys(state: Path) -> Path:
    """Creates the key pair and JWKS if missing; returns the JWKS path. Safe to call concurrently."""
    state.mkdir(parents=True, exist_ok=True)
    jwks_path = state / JWKS_FILE
    key_path = state / PRIVATE_KEY_FILE
    if jwks_path.exists() and key_path.exists():
        return jwks_path
    key = ec.generate_private_key(ec.SECP256R1())
    kid = uuid.uuid4().hex[:16]
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwks = {"keys": [{**public, "kid": kid, "alg": "ES256", "use": "sig"}]}
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Write both under temporary names, then rename: a reader never sees half a file, and a
    # concurrent first run that loses the race simply keeps the winner's pair.
    suffix = f".{os.getpid()}.tmp"
    tmp_key, tmp_jwks = key_path.with_suffix(suffix), jwks_path.with_suffix(suffix)
    tmp_key.write_bytes(pem)
    tmp_key.chmod(0o600)
    tmp_jwks.write_text(json.dumps(jwks, indent=2))
    if key_path.exists() or jwks_path.exists():
        tmp_key.unlink()
        tmp_jwks.unlink()
    else:
        tmp_key.replace(key_path)
        tmp_jwks.replace(jwks_path)
    return jwks_path


# The checkout this code runs from: `.venv/bin/studysync` finds the project's stack from anywhere.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def find_dev_keys(env: dict[str, str] | None = None, cwd: Path | None = None) -> Path:
    """The state folder holding the running stack's key pair, for commands that sign tokens for it.
    Never makes a pair: a second one would sign tokens the stack rejects ("Jwks doesn't have key to
    match kid"). Looks in STUDYSYNC_STATE_DIR if set, else `.studysync` in the working folder or any
    parent, then in this checkout; raises FileNotFoundError with a one-line hint otherwise."""
    env = dict(os.environ) if env is None else env
    here = (cwd or Path.cwd()).resolve()
    if env.get("STUDYSYNC_STATE_DIR"):
        candidates = [Path(env["STUDYSYNC_STATE_DIR"]).resolve()]
        where = f"STUDYSYNC_STATE_DIR={env['STUDYSYNC_STATE_DIR']}"
    else:
        candidates = [folder / ".studysync" for folder in (here, *here.parents)]
        candidates.append(PROJECT_ROOT / ".studysync")
        where = f".studysync in {here} or its parents, or in {PROJECT_ROOT}"
    for state in candidates:
        if (state / PRIVATE_KEY_FILE).is_file() and (state / JWKS_FILE).is_file():
            return state
    raise FileNotFoundError(
        f"no dev signing key ({where}): start the stack first (make run), or set STUDYSYNC_STATE_DIR "
        "to the state folder of the stack you are calling"
    )


def mint_token(
    state: Path,
    sub: str,
    profiles: list[str] | None = None,
    roles: list[str] | None = None,
    ttl_seconds: int = 3600,
) -> str:
    """A token signed with the dev key, with the claims every service reads."""
    ensure_dev_keys(state)
    jwks = json.loads((state / JWKS_FILE).read_text())
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": sub,
        "profiles": list(profiles or []),
        "roles": list(roles or []),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    key = (state / PRIVATE_KEY_FILE).read_bytes()
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": jwks["keys"][0]["kid"]})


def write_service_token(state: Path, ttl_seconds: int = SERVICE_TOKEN_TTL) -> Path:
    """Mints the service identity (sub `service:sync`, role `service`) into the state folder and returns
    its path. Internal RPCs need this role; the dev stack and compose's set-up job call this at every
    start, and sync re-reads the file when it changes (a platform that rotates it needs no restart)."""
    token = mint_token(state, "service:sync", [], ["service"], ttl_seconds)
    path = state / SERVICE_TOKEN_FILE
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(token + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)
    return path
