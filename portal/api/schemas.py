"""Request bodies take JSON as the document describes it, without the guesses pydantic makes by default.

Left lax, a body field declared as a date-time accepts ``0`` (1970-01-01), a boolean ``0`` or ``"off"``,
a whole number ``"7"`` or ``false``: a client's bug would pass silently. Every request body of the API
derives from :class:`Body`, which takes only an ISO 8601 string for a date-time, ``true``/``false`` for a
boolean and a JSON number for a whole number (lists of them included). Query parameters that are
date-times use :data:`IsoDatetime`, which refuses ``0.5`` (read as a Unix time otherwise).
"""

from __future__ import annotations

import re
import types
import typing
from datetime import datetime
from functools import cache
from typing import Annotated, Any

from ninja import Schema
from pydantic import (
    AwareDatetime,
    BeforeValidator,
    FutureDatetime,
    NaiveDatetime,
    PastDatetime,
    ValidationInfo,
    field_validator,
    model_validator,
)

_DATETIMES = (datetime, AwareDatetime, NaiveDatetime, FutureDatetime, PastDatetime)
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _kinds(annotation: Any) -> set[str]:
    """What needs a strict reading in a field's annotation: "bool", "datetime", "int", "ints" (a list of int)."""
    if annotation is bool:
        return {"bool"}
    if annotation is int:
        return {"int"}
    if annotation in _DATETIMES:
        return {"datetime"}
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_kinds(arg) for arg in typing.get_args(annotation)))
    if origin is typing.Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin is list and typing.get_args(annotation) == (int,):
        return {"ints"}
    return set()


def _iso_string(value: Any) -> Any:
    if isinstance(value, str) and not ISO_DATETIME.match(value):
        raise ValueError("must be an ISO 8601 date and time, e.g. 2030-05-01T09:00:00Z")
    return value


#: a date-time query parameter: an ISO 8601 string only
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_string)]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def problem(name: str, kinds: set[str], value: Any) -> str | None:
    """Why ``value`` is not what the document says ``name`` is, or None."""
    if value is None:
        return None
    if kinds == {"bool"} and not isinstance(value, bool):
        return f"{name} must be true or false."
    if kinds == {"int"} and not _is_int(value):
        return f"{name} must be a whole number."
    if kinds == {"ints"} and not (isinstance(value, list) and all(_is_int(v) for v in value)):
        return f"{name} must be a list of whole numbers."
    if kinds == {"datetime"} and not (isinstance(value, datetime) or (isinstance(value, str) and ISO_DATETIME.match(value))):
        return f"{name} must be an ISO 8601 date and time, e.g. 2030-05-01T09:00:00Z."
    return None


class Body(Schema):
    @classmethod
    @cache
    def _strict_fields(cls) -> dict[str, set[str]]:
        return {name: kinds for name, field in cls.model_fields.items() if (kinds := _kinds(field.annotation))}

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, data: Any) -> Any:
        inner = getattr(data, "_obj", data)  # ninja hands bodies over wrapped in its DjangoGetter
        if not isinstance(inner, dict | Schema):
            raise ValueError("The body must be a JSON object.")
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _no_guessing(cls, value: Any, info: ValidationInfo) -> Any:
        # per field, so the error names it (the envelope's target)
        kinds = cls._strict_fields().get(info.field_name)
        if kinds and (message := problem(info.field_name, kinds, value)):
            raise ValueError(message)
        return value
