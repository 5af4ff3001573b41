"""Who is calling: token verification and the caller's identity for domain code.

Envoy verifies tokens at the edge, and every service verifies them again because internal callers
reach services directly.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from services.runtime.errors import InvalidField, PermissionDenied, Unauthenticated, Unavailable
from services.runtime.keys import ISSUER

log = logging.getLogger("studysync.auth")


@dataclass(frozen=True)
class Principal:
    """The verified caller: user id, the profiles they may act for, their roles."""

    sub: str
    profiles: frozenset[str]
    roles: frozenset[str]
    token: str

    def require_profile(self, profile_id: str) -> None:
        """The one check that a request's profile is named and is one the caller may act for."""
        if not profile_id:
            raise InvalidField("profile_id", "is required")
        if profile_id not in self.profiles:
            raise PermissionDenied("the token may not act for this profile", field="profile_id")

    def require_role(self, role: str) -> None:
        if role not in self.roles:
            raise PermissionDenied(f"this call needs the '{role}' role", reason="ROLE_REQUIRED")


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)


def current_principal() -> Principal:
    """The caller of the RPC being served (set by the auth interceptor)."""
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("missing bearer token")
    return principal


def set_current_principal(principal: Principal | None) -> None:
    _current.set(principal)


def peek_principal() -> Principal | None:
    """The caller if one was verified, else None (for logs)."""
    return _current.get()


JWKS_CHECK_SECONDS = 1.0  # a changed key file is in effect within this


class TokenVerifier:
    """Verifies ES256 bearer tokens against a JWKS file (re-read within a second of a change)."""

    def __init__(self, jwks_path: Path, cache_size: int = 4096) -> None:
        self._path = jwks_path
        self._mtime = -1.0
        self._next_check = 0.0  # time.monotonic(): when to look at the file again
        self._keys: dict[str, object] = {}
        # Verified tokens, until they expire: an ES256 check costs more than a small batch.
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._cache_size = cache_size

    def _load(self) -> None:
        # At most once a second: a stat per request costs more than the cached verification itself.
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + JWKS_CHECK_SECONDS
        mtime = self._path.stat().st_mtime
        if mtime != self._mtime:
            keys = json.loads(self._path.read_text())["keys"]
            self._keys = {k["kid"]: jwt.PyJWK(k).key for k in keys}
            self._mtime = mtime
            self._verified.clear()  # a rotated key set revokes what the old keys signed

    def verify(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated("missing bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        self._load()
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid) if kid else next(iter(self._keys.values()), None)
            if key is None:
                raise Unauthenticated("token signed with an unknown key")
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=["ES256"],
                issuer=ISSUER,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.PyJWTError:
            raise Unauthenticated("invalid token") from None
        profiles, roles = claims.get("profiles", []), claims.get("roles", [])
        if not isinstance(profiles, list) or not isinstance(roles, list):
            raise Unauthenticated("claims 'profiles' and 'roles' must be lists")
        principal = Principal(
            sub=str(claims["sub"]),
            profiles=frozenset(map(str, profiles)),
            roles=frozenset(map(str, roles)),
            token=token,
        )
        if len(self._verified) >= self._cache_size:
            self._verified.clear()
        self._verified[token] = (principal, float(claims["exp"]))
        return principal


class ServiceCredentials:
    """This service's own bearer token for internal calls, read from a file (re-read when it changes),
    so the token can be rotated under a running process."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._mtime = -1.0
        self._value = ""

    def authorization(self) -> str:
        """`Bearer <token>`; Unavailable (the caller's client retries) while the file is missing."""
        try:
            mtime = self._path.stat().st_mtime
            if mtime != self._mtime:
                self._value = f"Bearer {self._path.read_text().strip()}"
                self._mtime = mtime
        except OSError:
            log.error("no service token at %s: internal calls will be refused", self._path)
            raise Unavailable("the service has no identity for internal calls yet") from None
        return self._value
