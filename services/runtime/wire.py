"""Finds what makes a request undecodable, by field, so a client hears `field: problem`, not a parser's text.

Runs only after the protobuf parser refused a request, so its cost never shows on the normal path.
It walks the wire format with the message's descriptor: strings that are not UTF-8, nesting deeper
than a bound, and bytes that are not protobuf at all. Inside a well-known type (a `Struct` in
`meta_data`, say) it keeps naming the user's field rather than the type's internals.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor, FieldDescriptor

# Envoy's JSON parser refuses nesting from 100 levels; one JSON level is three message levels in a
# Struct (Struct → map entry → Value). Anything deeper than this bound cannot have come through the
# gateway and is refused whole, before the parser (which recurses in C) ever sees it again.
MAX_MESSAGE_DEPTH = 400


@dataclass(frozen=True)
class Problem:
    field: str  # e.g. "items[3].meta_data", or "request" when the bytes are not a message
    reason: str  # "nested too deeply", "must be valid UTF-8", "is not valid protobuf"
    too_deep: bool = False  # the nesting bound only: the request is otherwise well formed


class _Malformed(Exception):
    pass


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Malformed
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _walk(
    descriptor: Descriptor,
    data: bytes,
    pos: int,
    end: int,
    path: str,
    depth: int,
    inside_wkt: bool,
    found: list[Problem],
) -> None:
    """Appends the first problem to `found` (and stops at it); depth counts message levels."""
    counts: dict[int, int] = {}
    while pos < end and not found:
        key, pos = _varint(data, pos, end)
        number, wire_type = key >> 3, key & 7
        field = descriptor.fields_by_number.get(number)
        if wire_type == 0:
            _, pos = _varint(data, pos, end)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        elif wire_type == 2:
            length, pos = _varint(data, pos, end)
            start, pos = pos, pos + length
            if pos > end:
                raise _Malformed
            if field is None:
                continue
            if inside_wkt:
                here = path
            else:
                here = f"{path}.{field.name}" if path else field.name
                if (
                    field.is_repeated
                    and field.message_type is not None
                    and not (field.message_type.GetOptions().map_entry)
                ):
                    index = counts.get(number, 0)
                    counts[number] = index + 1
                    here = f"{here}[{index}]"
            if field.type == FieldDescriptor.TYPE_STRING:
                try:
                    data[start:pos].decode("utf-8")
                except UnicodeDecodeError:
                    found.append(Problem(here, "must be valid UTF-8"))
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                if depth + 1 > MAX_MESSAGE_DEPTH:
                    found.append(Problem(here, "is nested too deeply", too_deep=True))
                    return
                message_type = field.message_type
                assert message_type is not None  # a TYPE_MESSAGE field always has one
                wkt = inside_wkt or message_type.full_name.startswith("google.protobuf.")
                _walk(message_type, data, start, pos, here, depth + 1, wkt, found)
        else:
            raise _Malformed
    if pos != end and not found:
        raise _Malformed


def find_problem(descriptor: Descriptor, data: bytes) -> Problem | None:
    """The first field that makes `data` undecodable as `descriptor`, or None if none is found."""
    found: list[Problem] = []
    try:
        _walk(descriptor, data, 0, len(data), "", 1, False, found)
    except (_Malformed, RecursionError):
        return Problem("request", "is not valid protobuf")
    return found[0] if found else None
