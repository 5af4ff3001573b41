"""Page sizes and page tokens, one rule for every List-style method (AIP-158).

A token is opaque to clients: URL-safe base64 (no padding) of a text only the issuing service
reads. Each service chooses that text; this module only wraps and unwraps it, so a token that
does not decode is refused the same way everywhere, naming the field.
"""

from __future__ import annotations

import base64
import binascii

from services.runtime.errors import InvalidField

DEFAULT_PAGE_SIZE = 100


def page_limit(page_size: int, maximum: int, default: int = DEFAULT_PAGE_SIZE) -> int:
    """0 asks for the default; more than `maximum` is clamped (AIP-158), a negative size refused."""
    if page_size < 0:
        raise InvalidField("page_size", "must be ≥ 0")
    return min(page_size or default, maximum)


def encode_token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_token(token: str, field: str = "page_token") -> str:
    """The text inside a token; InvalidField naming `field` if it is not one this server issued."""
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise not_issued(field) from None


def not_issued(field: str = "page_token") -> InvalidField:
    """For a token that decodes but whose text the service does not recognise."""
    return InvalidField(field, "is not a token this server issued")
