"""HTTP caching of package downloads (RFC 9110), for the servicer: the validator headers it sends
and the If-None-Match it reads. A published package never changes, so its version hash is its ETag."""

from __future__ import annotations

import re
from collections.abc import Callable

CACHE_CONTROL = "private, max-age=31536000, immutable"  # a published package never changes

_ENTITY_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*(?:,|$)')


def if_none_match_hits(header: str | None, version_hash: str) -> bool:
    """RFC 9110 §13.1.2: `*`, or a list of entity tags compared weakly (`W/"x"` matches `"x"`)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(match.group(1) == version_hash for match in _ENTITY_TAG.finditer(header))


def held_versions(if_none_match: str | None) -> Callable[[str], bool] | None:
    """Whether the client holds the version with a given hash; None for a plain GET (no header)."""
    if if_none_match is None:
        return None
    return lambda version_hash: if_none_match_hits(if_none_match, version_hash)


def etag(version_hash: str) -> str:
    return f'"{version_hash}"'


def validators(version_hash: str) -> tuple[tuple[str, str], ...]:
    """The same headers on 200, 304 and HEAD (RFC 9110 §15.4.5)."""
    return (("etag", etag(version_hash)), ("cache-control", CACHE_CONTROL))
