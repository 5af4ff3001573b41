"""Bank questions as sync last fetched them, each labelled with the bank version it was fetched at:
one is used only while the bank is still at that version (versioned invalidation, not a TTL)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from services.sync.domain import QuestionFacts

DEFAULT_CAPACITY = 100_000  # question ids; a few hundred bytes each


class BankQuestionCache:
    """Bounded: the least recently used question is dropped first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, tuple[int, QuestionFacts]] = OrderedDict()

    def usable(self, question_ids: Iterable[str], version: int) -> tuple[dict[str, QuestionFacts], list[str]]:
        """The questions kept at exactly `version`, and the ids to ask for (absent or older)."""
        found: dict[str, QuestionFacts] = {}
        missing: list[str] = []
        entries = self._entries
        for question_id in question_ids:
            entry = entries.get(question_id)
            if entry is not None and entry[0] == version:
                entries.move_to_end(question_id)
                found[question_id] = entry[1]
            else:
                missing.append(question_id)
        return found, missing

    def remember(self, facts: dict[str, QuestionFacts], version: int) -> None:
        entries = self._entries
        for question_id, fact in facts.items():
            kept = entries.get(question_id)
            if kept is None or kept[0] <= version:  # a slower fetch never replaces a newer one
                entries[question_id] = (version, fact)
            entries.move_to_end(question_id)
        while len(entries) > self._capacity:
            entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
