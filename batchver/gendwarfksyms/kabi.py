"""kABI stability rules from ``.discard.gendwarfksyms.kabi_rules`` (``--stable``).

The section holds entries of four NUL-terminated strings (version, type,
target, value).  Parsing follows upstream's acceptance rules exactly, since a
section that upstream rejects must be rejected here too, and a later entry for
the same (type, target) overrides an earlier one.
"""

from __future__ import annotations

from typing import Callable, Final

from batchver.elf.file import ElfObject
from batchver.errors import VersioningError
from batchver.gendwarfksyms.options import Diagnostics

RULE_SECTION: Final = ".discard.gendwarfksyms.kabi_rules"
RULE_VERSION: Final = "1"
MIN_ENTRY_SIZE: Final = 6  # "1\0" + "x\0" + "\0" + "\0"
RULE_TYPES: Final = ("declonly", "enumerator_ignore", "enumerator_value", "byte_size", "type_string")

_C_SPACE: Final = " \t\n\v\f\r"


def strtoul10(value: str) -> int:
    """C ``strtoul(value, &end, 10)`` with upstream's check that nothing is
    left over and no overflow happened."""
    s = value.lstrip(_C_SPACE)
    negative = False
    if s[:1] in ("+", "-"):
        negative = s[0] == "-"
        s = s[1:]
    digits = len(s) - len(s.lstrip("0123456789"))
    if digits == 0:
        if value:  # no number: endptr is the start of the string
            raise VersioningError("get_ulong_value", f"invalid unsigned value '{value}'")
        return 0
    if s[digits:]:
        raise VersioningError("get_ulong_value", f"invalid unsigned value '{value}'")
    number = int(s[:digits])
    if number > (1 << 64) - 1:
        raise VersioningError("get_ulong_value", f"invalid unsigned value '{value}'")
    return (-number) & ((1 << 64) - 1) if negative else number


class KabiRules:
    """The rules of one object file; empty when ``--stable`` is off."""

    def __init__(self, rules: dict[tuple[str, str], str] | None = None):
        self._rules = rules or {}

    def __bool__(self) -> bool:
        return bool(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    @classmethod
    def parse(cls, data: bytes, warn: Callable[[str, str], None],
              debug: Callable[[str, str], None] | None = None) -> "KabiRules":
        left = len(data)
        if left < MIN_ENTRY_SIZE:
            raise VersioningError("kabi_read_rules", f"kABI rule section too small: {left} bytes")
        if data[-1] != 0:
            raise VersioningError("kabi_read_rules", "kABI rules are not null-terminated")
        pos = 0
        rules: dict[tuple[str, str], str] = {}

        def field() -> str:
            nonlocal pos, left
            if left <= 0:
                raise VersioningError("get_rule_field", "unexpected end of kABI rules")
            end = data.find(b"\0", pos, pos + left)
            length = (end - pos if end >= 0 else left) + 1
            text = data[pos:pos + length - 1].decode("utf-8", "surrogateescape")
            pos += length
            left -= length
            return text

        while left > MIN_ENTRY_SIZE:
            version = field()
            if version != RULE_VERSION:
                raise VersioningError("kabi_read_rules", f"unsupported kABI rule version: '{version}'")
            kind = field()
            if kind not in RULE_TYPES:
                raise VersioningError("kabi_read_rules", f"unsupported kABI rule type: '{kind}'")
            target = field()
            value = field()
            rules.pop((kind, target), None)
            rules[(kind, target)] = value
            if debug is not None:
                debug("kabi_read_rules",
                      f"kABI rule: type: '{kind}', target: '{target}', value: '{value}'")
        if left > 0:
            warn("kabi_read_rules", "unexpected data at the end of the kABI rules section")
        return cls(rules)

    def is_declonly(self, fqn: str | None) -> bool:
        return bool(fqn) and ("declonly", fqn) in self._rules

    def _enumerator(self, kind: str, enum_fqn: str | None, name: str | None) -> str | None:
        if not enum_fqn or not name:
            return None
        return self._rules.get((kind, f"{enum_fqn} {name}"))

    def is_enumerator_ignored(self, enum_fqn: str | None, name: str | None) -> bool:
        return self._enumerator("enumerator_ignore", enum_fqn, name) is not None

    def enumerator_value(self, enum_fqn: str | None, name: str | None) -> int | None:
        value = self._enumerator("enumerator_value", enum_fqn, name)
        return None if value is None else strtoul10(value)

    def byte_size(self, fqn: str | None) -> int | None:
        if not fqn:
            return None
        value = self._rules.get(("byte_size", fqn))
        return None if value is None else strtoul10(value)

    def type_string(self, name: str) -> str | None:
        return self._rules.get(("type_string", name)) if name else None


def read_rules(elf: ElfObject, diag: Diagnostics) -> KabiRules:
    """kabi_read_rules: the object's kABI rules (``--stable``); none when
    it has no section."""
    sec = elf.section(RULE_SECTION)
    if sec is None:
        diag.debug("kabi_read_rules", "kABI rules not found")
        return KabiRules()
    return KabiRules.parse(elf.data(sec), diag.warn, diag.debug)
