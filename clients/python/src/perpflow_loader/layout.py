"""The S3 key layout of the aligned dataset, as packages/dataset/src/layout computes it
(keys.ts, windows.ts, symbol.ts). Keys are a pure function of the window, so every key
an index or manifest names can be checked against the one computed here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from .errors import InvalidConfig, InvalidRequest

# packages/contracts: EXCHANGES, TIMEFRAMES, UNIFIED_SYMBOL_PATTERN, SYMBOL_MAX_LENGTH.
EXCHANGES = ("binanceusdm", "bybit", "okx")
TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")
TIMEFRAME_MS = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}
UNIFIED_SYMBOL = re.compile(r"^[A-Z0-9]{1,24}/[A-Z0-9]{1,12}:[A-Z0-9]{1,12}(-[0-9]{6})?$")
SYMBOL_MAX_LENGTH = 64
WINDOW_UNITS = ("day", "month", "year")

LATEST_TREE = "aligned/v1"
REVISIONS_TREE = "aligned_revisions/v1"
COMPACTED_TREE = "aligned_compacted/v1"

_PREFIX_SEGMENT = re.compile(r"^[a-z0-9._-]+$")


@dataclass(frozen=True)
class SeriesId:
    exchange: str
    symbol: str
    timeframe: str

    def __str__(self) -> str:
        # seriesIdString of keys.ts
        return f"{self.timeframe}|{self.exchange}|{self.symbol}"


def check_series(exchange: str, symbol: str, timeframe: str) -> SeriesId:
    """The series of a request, or InvalidRequest naming the argument that is wrong."""
    if exchange not in EXCHANGES:
        raise InvalidRequest(f"exchange {exchange!r} is not one of {', '.join(EXCHANGES)}")
    if not isinstance(symbol, str) or len(symbol) > SYMBOL_MAX_LENGTH or not UNIFIED_SYMBOL.match(symbol):
        raise InvalidRequest(f"symbol {symbol!r} is not a ccxt unified symbol like 'BTC/USDT:USDT'")
    if timeframe not in TIMEFRAMES:
        raise InvalidRequest(f"timeframe {timeframe!r} is not one of {', '.join(TIMEFRAMES)}")
    return SeriesId(exchange, symbol, timeframe)


def normalize_prefix(prefix: str, name: str = "prefix") -> str:
    """normalizePrefix of keys.ts: lower-case segments of [a-z0-9._-], trailing / trimmed."""
    p = prefix.rstrip("/") if isinstance(prefix, str) else ""
    segs = p.split("/")
    if not p or any(not _PREFIX_SEGMENT.match(s) or s in (".", "..") for s in segs):
        raise InvalidConfig(f"{name} {prefix!r} is not a dataset prefix (lower-case segments of a-z 0-9 . _ -)")
    return p


def encode_symbol(symbol: str) -> str:
    """encodeSymbol of symbol.ts: every UTF-8 byte outside [A-Z0-9] becomes %XX."""
    out = []
    for byte in symbol.encode("utf-8"):
        c = chr(byte)
        out.append(c if ("A" <= c <= "Z" or "0" <= c <= "9") else f"%{byte:02X}")
    return "".join(out)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _ms(d: datetime) -> int:
    return int(d.timestamp()) * 1000


def window_start_of(t_ms: int, unit: str) -> int:
    d = _utc(t_ms - t_ms % 1000)
    if unit == "day":
        return _ms(datetime(d.year, d.month, d.day, tzinfo=timezone.utc))
    if unit == "month":
        return _ms(datetime(d.year, d.month, 1, tzinfo=timezone.utc))
    if unit == "year":
        return _ms(datetime(d.year, 1, 1, tzinfo=timezone.utc))
    raise ValueError(f"unknown window unit {unit!r}")


def window_end_of(start_ms: int, unit: str) -> int:
    d = _utc(start_ms - start_ms % 1000)
    if unit == "day":
        return window_start_of(start_ms, "day") + 86_400_000
    if unit == "month":
        y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
        return _ms(datetime(y, m, 1, tzinfo=timezone.utc))
    if unit == "year":
        return _ms(datetime(d.year + 1, 1, 1, tzinfo=timezone.utc))
    raise ValueError(f"unknown window unit {unit!r}")


def is_window_start(t_ms: int, unit: str) -> bool:
    return isinstance(t_ms, int) and window_start_of(t_ms, unit) == t_ms


def window_starts_covering(from_ms: int, to_ms: int, unit: str) -> list[int]:
    out = []
    s = window_start_of(from_ms, unit)
    while s < to_ms:
        out.append(s)
        s = window_end_of(s, unit)
    return out


def utc_date(t_ms: int) -> str:
    return _utc(t_ms).strftime("%Y-%m-%d")


def utc_month(t_ms: int) -> str:
    return _utc(t_ms).strftime("%Y-%m")


def _series_path(s: SeriesId) -> str:
    return f"timeframe={s.timeframe}/exchange={s.exchange}/symbol={encode_symbol(s.symbol)}"


def series_index_key(prefix: str, s: SeriesId) -> str:
    return f"{normalize_prefix(prefix)}/{LATEST_TREE}/{_series_path(s)}/_index.json"


def _window_path(s: SeriesId, start_ms: int) -> str:
    return f"{_series_path(s)}/date={utc_date(start_ms)}"


def object_key(prefix: str, s: SeriesId, start_ms: int) -> str:
    return f"{normalize_prefix(prefix)}/{LATEST_TREE}/{_window_path(s, start_ms)}/part-{start_ms}.parquet"


def manifest_key(prefix: str, s: SeriesId, start_ms: int) -> str:
    return f"{normalize_prefix(prefix)}/{LATEST_TREE}/{_window_path(s, start_ms)}/part-{start_ms}.manifest.json"


def revisions_key(prefix: str, s: SeriesId, start_ms: int) -> str:
    return f"{normalize_prefix(prefix)}/{REVISIONS_TREE}/{_window_path(s, start_ms)}/part-{start_ms}.parquet"


def _month_path(s: SeriesId, month_start_ms: int) -> str:
    return f"{_series_path(s)}/month={utc_month(month_start_ms)}"


def compacted_object_key(prefix: str, s: SeriesId, month_start_ms: int) -> str:
    p = normalize_prefix(prefix)
    return f"{p}/{COMPACTED_TREE}/{_month_path(s, month_start_ms)}/part-{month_start_ms}.parquet"


def compacted_manifest_key(prefix: str, s: SeriesId, month_start_ms: int) -> str:
    p = normalize_prefix(prefix)
    return f"{p}/{COMPACTED_TREE}/{_month_path(s, month_start_ms)}/part-{month_start_ms}.manifest.json"
