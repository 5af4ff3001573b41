"""Verifies the bearer token of every product RPC and makes the caller known to domain code.

Internal RPCs (no HTTP binding in the protos, see services/runtime/visibility.py) also need a
caller with the `service` or `admin` role: a user's token, valid as it is, is refused.
"""

from __future__ import annotations

from typing import Any

import grpc

from services.runtime.auth import TokenVerifier, set_current_principal
from services.runtime.errors import PermissionDenied
from services.runtime.interceptors import UnaryBehavior, UnaryInterceptor, metadata_value
from services.runtime.visibility import INTERNAL_ROLES


class AuthInterceptor(UnaryInterceptor):
    applies_to_public = False  # health checks and reflection need no token

    def __init__(self, verifier: TokenVerifier, internal_methods: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self._verifier = verifier
        self._internal = internal_methods

    async def around(
        self, method: str, call: UnaryBehavior, request: Any, context: grpc.aio.ServicerContext
    ) -> Any:
        principal = self._verifier.verify(metadata_value(context, "authorization"))
        if method in self._internal and not principal.roles & INTERNAL_ROLES:
            raise PermissionDenied(
                "this is an internal call: it needs a service identity or the 'admin' role",
                reason="INTERNAL_METHOD",
            )
        # Each RPC runs in its own asyncio task (its own context copy), so this never leaks to
        # another call; it stays set so the access log can name the caller.
        set_current_principal(principal)
        return await call(request, context)
