"""JSON typed by people (admin's JSON fields) or sent by scripts (the API's bodies),
parsed with a readable refusal for each way it can be hostile.

Python's `json` accepts what the hub cannot keep or handle, and each was a 500:
- `NaN`, `Infinity` and numbers like `1e400` (read as infinity): PostgreSQL's jsonb and
  SQLite's JSON_VALID check refuse them at save;
- nesting deep enough to exhaust the parser's recursion (a RecursionError), or, not
  quite that deep, the encoder's when the value is saved or shown again;
- an integer longer than Python converts (a ValueError that is no JSONDecodeError).
"""

from __future__ import annotations

import json
import math

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput, JSONString

# Deeper than any parameters or task arguments need; far below the recursion limit.
MAX_DEPTH = 32


class JSONInputError(ValueError):
    """The text is not JSON the hub accepts; the message says why."""


def _refuse_constant(name: str):
    raise JSONInputError(f"{name} is not a number JSON allows; send a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONInputError(f"{text} is too large a number")
    return value


def _depth(value) -> int:
    """How deeply `value` nests (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


def loads(text: str | bytes):
    """`json.loads`, raising `JSONInputError` with a readable message instead of
    accepting NaN/Infinity, nesting deeper than `MAX_DEPTH`, or crashing."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except JSONInputError:
        raise
    except RecursionError:
        raise JSONInputError(f"nested deeper than {MAX_DEPTH} levels") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise JSONInputError("not valid JSON") from None
    except ValueError as exc:  # e.g. an integer over Python's digit limit
        raise JSONInputError(f"not valid JSON: {exc}") from None
    if _depth(value) > MAX_DEPTH:
        raise JSONInputError(f"nested deeper than {MAX_DEPTH} levels")
    return value


class JSONFormField(forms.JSONField):
    """Admin's JSON field (a strategy's parameters, a schedule's arguments) through
    `loads`: hostile JSON is an error on the field, not a 500."""

    def to_python(self, value):
        if self.disabled:
            return value
        if value in self.empty_values:
            return None
        if isinstance(value, list | dict | int | float | JSONString):
            return value
        try:
            converted = loads(value)
        except JSONInputError as exc:
            raise ValidationError(
                "Enter valid JSON: %(reason)s.", code="invalid", params={"reason": exc}
            ) from None
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data, initial):
        if self.disabled:
            return initial
        if data is None:
            return None
        try:
            return loads(data)
        except JSONInputError:
            return InvalidJSONInput(data)
