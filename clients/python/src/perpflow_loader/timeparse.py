"""Instants given by callers, as integer ms UTC."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from .errors import InvalidRequest

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def to_ms(value: object, name: str) -> int:
    """int ms UTC, a timezone-aware datetime (or pandas Timestamp), an ISO-8601 string with
    an offset or Z, or a bare date 'YYYY-MM-DD' (UTC midnight, as `perpflow pull --from`)."""
    if isinstance(value, bool):
        raise InvalidRequest(f"{name} must be ms UTC, a timezone-aware datetime or an ISO-8601 string, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        s = value.strip()
        try:
            if _DATE.match(s):
                d = datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            else:
                d = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError as e:
            raise InvalidRequest(f"{name} {value!r} is not an ISO-8601 date or time") from e
        if d.tzinfo is None:
            raise InvalidRequest(f"{name} {value!r} has no UTC offset: add Z or +00:00")
        return _datetime_ms(d)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidRequest(f"{name} {value!r} is a naive datetime: give it a timezone (UTC)")
        return _datetime_ms(value)
    raise InvalidRequest(f"{name} must be ms UTC, a timezone-aware datetime or an ISO-8601 string, got {type(value).__name__}")


def _datetime_ms(d: datetime) -> int:
    delta = d.astimezone(timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
