"""Where a question sits in the curriculum: one vocabulary for packages (which filter and freeze
questions by it) and sync (which tags a session with the scope of its first answers)."""

from __future__ import annotations

SCOPE_IDS = ("year_id", "block_id", "theme_id")  # whole-number levels, coarse to fine
SCOPE_TAGS = ("program", *SCOPE_IDS)  # every tag a question may carry
# A package's scope kind → the tag its scope data must name.
SCOPE_KINDS = {"PROGRAM": "program", "YEAR": "year_id", "BLOCK": "block_id", "THEME": "theme_id"}
