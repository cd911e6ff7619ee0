"""Typed JSON records: dataclasses written as JSON objects and read back
with every value checked once against the field's type.

The files batchver writes and reads again (``report.json``, the nightly's
history) are contracts between a writer and readers that must not drift
apart; a dataclass per object states the contract once, and this module
derives both directions from it.  Reading follows two rules: a field with a
default may be absent or null in the file (older writers left some out),
one without is required; keys no field names are ignored, so a later writer
may add some.  A field whose metadata is :data:`OMIT_NONE` is left out of
the file when it is None, rather than written as null.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Callable, Literal, TypeVar

# field(metadata=OMIT_NONE): a key that only some objects have
OMIT_NONE = {"omit_none": True}


class ShapeError(ValueError):
    """A value that does not fit its record, as ``key: expected ..., got ...``.
    The key path is collected while the error unwinds, so a valid report
    (the usual case) never formats one."""

    def __init__(self, problem: str, where: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.where = where

    def inside(self, step: str) -> ShapeError:
        """This error one level further out (``step``: ``.key`` or ``[i]``)."""
        self.where = step + self.where
        return self

    def __str__(self) -> str:
        return f"{self.where.removeprefix('.')}: {self.problem}"


_JSON_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "true or false",
               int: "an integer", float: "a number", type(None): "null"}

Decoder = Callable[[object], Any]
_DECODERS: dict[object, Decoder] = {}
R = TypeVar("R")


def _got(value: object) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def decoder(hint: Any) -> Decoder:
    """A function that checks a JSON value against a type hint and returns
    it as that type; built once per hint."""
    known = _DECODERS.get(hint)
    if known is None:
        known = _DECODERS[hint] = _build_decoder(hint)
    return known


def record_decoder(cls: type[R]) -> Callable[[object], R]:
    """:func:`decoder` of a record class, whose values are instances of it."""
    return decoder(cls)


def _build_decoder(hint: Any) -> Decoder:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _record_decoder(hint)
    if origin is Literal:
        allowed = frozenset(args)
        expected = f"expected one of {', '.join(sorted(allowed))}"

        def literal(value: object) -> object:
            if isinstance(value, str) and value in allowed:
                return value
            raise ShapeError(f"{expected}, got {json.dumps(value)[:40]}")
        return literal
    if origin is list:
        item = decoder(args[0])

        def listed(value: object) -> list[object]:
            if not isinstance(value, list):
                raise ShapeError(f"expected a list, got {_got(value)}")
            out: list[object] = []
            for number, element in enumerate(value):
                try:
                    out.append(item(element))
                except ShapeError as exc:
                    raise exc.inside(f"[{number}]") from None
            return out
        return listed
    if origin is dict:
        item = decoder(args[1])

        def mapped(value: object) -> dict[object, object]:
            if not isinstance(value, dict):
                raise ShapeError(f"expected an object, got {_got(value)}")
            out: dict[object, object] = {}
            for key, element in value.items():
                try:
                    out[key] = item(element)
                except ShapeError as exc:
                    raise exc.inside(f"[{json.dumps(key)}]") from None
            return out
        return mapped
    if hint is Any or hint is object:  # any JSON value, kept as it was written
        return lambda value: value
    if args and type(None) in args:  # X | None: None is the field's default
        (inner,) = [a for a in args if a is not type(None)]
        return decoder(inner)
    return _leaf_decoder(hint)


def _leaf_decoder(hint: type) -> Decoder:
    # JSON has no separate boolean and number: true is not a count, but a
    # whole number is a fine number of seconds
    accepted: tuple[type, ...] = (int, float) if hint is float else (hint,)
    expected = f"expected {_JSON_NAMES[hint]}"

    def leaf(value: object) -> object:
        if isinstance(value, accepted) and (hint is bool or not isinstance(value, bool)):
            return value
        raise ShapeError(f"{expected}, got {_got(value)}")
    return leaf


def _record_decoder(cls: type) -> Decoder:
    hints = typing.get_type_hints(cls)
    fields = [(f.name, decoder(hints[f.name]),
               f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
              for f in dataclasses.fields(cls)]

    def record(value: object) -> object:
        if not isinstance(value, dict):
            raise ShapeError(f"expected an object, got {_got(value)}")
        found = {}
        for name, decode, required in fields:
            item = value.get(name)
            if item is None:
                if required:
                    raise ShapeError("missing (truncated, or not written by batchver run?)",
                                     f".{name}")
                continue
            try:
                found[name] = decode(item)
            except ShapeError as exc:
                raise exc.inside(f".{name}") from None
        return cls(**found)
    return record


def encode(value: Any) -> Any:
    """A record as JSON values: fields in declaration order, a field marked
    :data:`OMIT_NONE` left out when None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return encode_record(value)
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value


def encode_record(value: object) -> dict[str, Any]:
    """A record (a dataclass instance) as a JSON object, as :func:`encode`."""
    out: dict[str, Any] = {}
    for name, omit_none in _encoded_fields(type(value)):
        item = getattr(value, name)
        if item is None and omit_none:
            continue
        out[name] = encode(item)
    return out


_ENCODED_FIELDS: dict[type, list[tuple[str, bool]]] = {}


def _encoded_fields(cls: type) -> list[tuple[str, bool]]:
    """A record's (field name, omit when None), looked up once per class: a
    whole kernel's report has tens of thousands of exports."""
    known = _ENCODED_FIELDS.get(cls)
    if known is None:
        known = _ENCODED_FIELDS[cls] = [(f.name, bool(f.metadata.get("omit_none")))
                                        for f in dataclasses.fields(cls)]
    return known
