"""Verifies the bearer token of every product RPC and makes the caller known to domain code."""

from __future__ import annotations

from typing import Any

import grpc

from services.runtime.auth import TokenVerifier, set_current_principal
from services.runtime.interceptors import UnaryBehavior, UnaryInterceptor, metadata_value


class AuthInterceptor(UnaryInterceptor):
    applies_to_public = False  # health checks and reflection need no token

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    async def around(
        self, method: str, call: UnaryBehavior, request: Any, context: grpc.aio.ServicerContext
    ) -> Any:
        principal = self._verifier.verify(metadata_value(context, "authorization"))
        # Each RPC runs in its own asyncio task (its own context copy), so this never leaks to
        # another call; it stays set so the access log can name the caller.
        set_current_principal(principal)
        return await call(request, context)
