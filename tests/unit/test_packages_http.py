"""The HTTP caching of package downloads without a server: If-None-Match and the validators."""

from __future__ import annotations

import pytest

from services.packages.http import CACHE_CONTROL, etag, held_versions, if_none_match_hits, validators


@pytest.mark.parametrize(
    ("header", "hit"),
    [
        (None, False),
        ('"abc"', True),
        ('W/"abc"', True),
        ('"zzz", W/"abc"', True),
        ('"zzz" , "yyy"', False),
        ("*", True),
        ('"ab"', False),
        ('W/"zzz",W/"abc"', True),  # no space after the comma
        ('"ABC"', False),  # entity tags compare case-sensitively
        ("abc", False),  # not a quoted entity tag
    ],
)
def test_if_none_match_is_a_weak_comparison_over_a_list(header, hit):
    assert if_none_match_hits(header, "abc") is hit


def test_no_header_is_a_plain_read_and_a_header_is_a_predicate_over_version_hashes():
    assert held_versions(None) is None
    held = held_versions('W/"abc", "def"')
    assert held is not None and held("abc") and held("def") and not held("ghi")
    star = held_versions("*")
    assert star is not None and star("anything")
    nothing = held_versions("not-a-tag")  # a header that names no tag still asks for a revalidation
    assert nothing is not None and not nothing("not-a-tag")


def test_etag_is_strong_and_quoted():
    assert etag("abc") == '"abc"'


def test_200_304_and_head_share_one_set_of_validators():
    assert validators("abc") == (("etag", '"abc"'), ("cache-control", CACHE_CONTROL))
    assert CACHE_CONTROL == "private, max-age=31536000, immutable"
