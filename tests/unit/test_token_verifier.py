"""TokenVerifier without a server: a changed key file takes effect within JWKS_CHECK_SECONDS."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from services.runtime import auth
from services.runtime.auth import TokenVerifier
from services.runtime.errors import Unauthenticated
from services.runtime.keys import JWKS_FILE, ensure_dev_keys, mint_token


def test_a_replaced_key_set_revokes_what_the_old_key_signed(tmp_path: Path, monkeypatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    old, new = tmp_path / "old", tmp_path / "new"
    verifier = TokenVerifier(ensure_dev_keys(old))
    token = mint_token(old, "ana")
    assert verifier.verify(f"Bearer {token}").sub == "ana"
    ensure_dev_keys(new)
    shutil.copy(new / JWKS_FILE, old / JWKS_FILE)
    os.utime(old / JWKS_FILE, (1, 1))  # a different mtime, whatever the file system's resolution
    clock[0] += auth.JWKS_CHECK_SECONDS / 2
    assert verifier.verify(f"Bearer {token}").sub == "ana"  # not looked at yet
    clock[0] += auth.JWKS_CHECK_SECONDS
    with pytest.raises(Unauthenticated):
        verifier.verify(f"Bearer {token}")
    assert verifier.verify(f"Bearer {mint_token(new, 'bo')}").sub == "bo"
