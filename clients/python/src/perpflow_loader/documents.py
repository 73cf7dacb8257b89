"""The JSON documents of the dataset (packages/dataset/src/manifest/schemas.ts): the
series index, the window manifest and the compacted month's manifest. Only what the
loader relies on is checked, each failure naming the object key and the field."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import DatasetInvalid
from .layout import EXCHANGES, TIMEFRAMES, WINDOW_UNITS, SeriesId

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MIN_EPOCH_MS = 1_262_304_000_000
MAX_EPOCH_MS = 4_102_444_800_000


@dataclass(frozen=True)
class ObjectRef:
    key: str
    sha256: str
    bytes: int
    row_count: int


@dataclass(frozen=True)
class IndexEntry:
    start_ms: int
    end_ms: int
    manifest_key: str
    object_key: str
    row_count: int
    min_ts_ms: int | None
    max_ts_ms: int | None
    sha256: str
    has_revisions: bool
    closed: bool
    written_at_ms: int


@dataclass(frozen=True)
class SeriesIndex:
    series: SeriesId
    unit: str
    windows: tuple[IndexEntry, ...]


@dataclass(frozen=True)
class WindowManifest:
    series: SeriesId
    unit: str
    start_ms: int
    end_ms: int
    object: ObjectRef
    revisions: ObjectRef | None
    max_known_at_ms: int | None
    closed: bool
    max_ts_ms: int | None


@dataclass(frozen=True)
class CompactedManifest:
    series: SeriesId
    start_ms: int
    end_ms: int
    object: ObjectRef
    sources: tuple[tuple[int, str], ...]  # (startMs, sha256) of each day


class _Doc:
    def __init__(self, key: str, what: str):
        self.key = key
        self.what = what

    def fail(self, path: str, why: str) -> DatasetInvalid:
        return DatasetInvalid(f"{self.key}: {self.what} field {path} {why}")

    def get(self, obj: Any, path: str, field: str) -> Any:
        if not isinstance(obj, dict) or field not in obj:
            raise self.fail(f"{path}{field}", "is missing")
        return obj[field]

    def int_(self, obj: Any, path: str, field: str, nullable: bool = False, epoch: bool = False) -> int | None:
        v = self.get(obj, path, field)
        if v is None and nullable:
            return None
        if not isinstance(v, int) or isinstance(v, bool):
            raise self.fail(f"{path}{field}", f"must be an integer, got {v!r}")
        if epoch and not MIN_EPOCH_MS <= v <= MAX_EPOCH_MS:
            raise self.fail(f"{path}{field}", f"must be epoch ms in 2010..2100, got {v}")
        if not epoch and v < 0:
            raise self.fail(f"{path}{field}", f"must be ≥ 0, got {v}")
        return v

    def str_(self, obj: Any, path: str, field: str) -> str:
        v = self.get(obj, path, field)
        if not isinstance(v, str) or not v:
            raise self.fail(f"{path}{field}", f"must be a non-empty string, got {v!r}")
        return v

    def bool_(self, obj: Any, path: str, field: str) -> bool:
        v = self.get(obj, path, field)
        if not isinstance(v, bool):
            raise self.fail(f"{path}{field}", f"must be true or false, got {v!r}")
        return v

    def sha(self, obj: Any, path: str, field: str) -> str:
        v = self.get(obj, path, field)
        if not isinstance(v, str) or not _SHA256.match(v):
            raise self.fail(f"{path}{field}", f"must be lower-case hex sha256, got {v!r}")
        return v

    def series(self, obj: Any, path: str) -> SeriesId:
        ex = self.get(obj, path, "exchange")
        tf = self.get(obj, path, "timeframe")
        sym = self.str_(obj, path, "symbol")
        if ex not in EXCHANGES:
            raise self.fail(f"{path}exchange", f"is not a known exchange: {ex!r}")
        if tf not in TIMEFRAMES:
            raise self.fail(f"{path}timeframe", f"is not a known timeframe: {tf!r}")
        return SeriesId(ex, sym, tf)

    def unit(self, obj: Any, path: str) -> str:
        u = self.get(obj, path, "unit")
        if u not in WINDOW_UNITS:
            raise self.fail(f"{path}unit", f"must be one of {', '.join(WINDOW_UNITS)}, got {u!r}")
        return u

    def ref(self, obj: Any, path: str) -> ObjectRef:
        return ObjectRef(
            key=self.str_(obj, path, "key"),
            sha256=self.sha(obj, path, "sha256"),
            bytes=self.int_(obj, path, "bytes"),
            row_count=self.int_(obj, path, "rowCount"),
        )


def _load(raw: bytes, doc: _Doc) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise DatasetInvalid(f"{doc.key}: {doc.what} is not JSON ({e})") from e


def parse_series_index(raw: bytes, key: str) -> SeriesIndex:
    d = _Doc(key, "series index")
    o = _load(raw, d)
    if d.get(o, "", "indexVersion") != 1:
        raise d.fail("indexVersion", f"must be 1, got {o['indexVersion']!r}")
    series = d.series(d.get(o, "", "series"), "series.")
    unit = d.unit(o, "")
    raw_windows = d.get(o, "", "windows")
    if not isinstance(raw_windows, list):
        raise d.fail("windows", "must be a list")
    windows = []
    for i, w in enumerate(raw_windows):
        p = f"windows[{i}]."
        e = IndexEntry(
            start_ms=d.int_(w, p, "startMs", epoch=True),
            end_ms=d.int_(w, p, "endMs", epoch=True),
            manifest_key=d.str_(w, p, "manifestKey"),
            object_key=d.str_(w, p, "objectKey"),
            row_count=d.int_(w, p, "rowCount"),
            min_ts_ms=d.int_(w, p, "minTsMs", nullable=True, epoch=True),
            max_ts_ms=d.int_(w, p, "maxTsMs", nullable=True, epoch=True),
            sha256=d.sha(w, p, "sha256"),
            has_revisions=d.bool_(w, p, "hasRevisions"),
            closed=d.bool_(w, p, "closed"),
            written_at_ms=d.int_(w, p, "writtenAtMs", epoch=True),
        )
        if windows and e.start_ms <= windows[-1].start_ms:
            raise d.fail(f"windows[{i}].startMs", "breaks the order: windows must be sorted and unique")
        windows.append(e)
    return SeriesIndex(series=series, unit=unit, windows=tuple(windows))


def parse_window_manifest(raw: bytes, key: str) -> WindowManifest:
    d = _Doc(key, "window manifest")
    o = _load(raw, d)
    if d.get(o, "", "manifestVersion") != 1:
        raise d.fail("manifestVersion", f"must be 1, got {o['manifestVersion']!r}")
    if d.get(o, "", "schemaVersion") != 1:
        raise d.fail("schemaVersion", f"must be 1 (AlignedBar v1), got {o['schemaVersion']!r}")
    w = d.get(o, "", "window")
    revisions = d.get(o, "", "revisions")
    return WindowManifest(
        series=d.series(w, "window."),
        unit=d.unit(w, "window."),
        start_ms=d.int_(w, "window.", "startMs", epoch=True),
        end_ms=d.int_(w, "window.", "endMs", epoch=True),
        object=d.ref(d.get(o, "", "object"), "object."),
        revisions=None if revisions is None else d.ref(revisions, "revisions."),
        max_known_at_ms=d.int_(o, "", "maxKnownAtMs", nullable=True, epoch=True),
        closed=d.bool_(o, "", "closed"),
        max_ts_ms=d.int_(o, "", "maxTsMs", nullable=True, epoch=True),
    )


def parse_compacted_manifest(raw: bytes, key: str) -> CompactedManifest:
    d = _Doc(key, "compacted manifest")
    o = _load(raw, d)
    if d.get(o, "", "compactedManifestVersion") != 1:
        raise d.fail("compactedManifestVersion", "must be 1")
    if d.get(o, "", "schemaVersion") != 1:
        raise d.fail("schemaVersion", "must be 1 (AlignedBar v1)")
    m = d.get(o, "", "month")
    if d.get(m, "month.", "sourceUnit") != "day":
        raise d.fail("month.sourceUnit", "must be 'day'")
    sources = d.get(o, "", "sources")
    if not isinstance(sources, list) or not sources:
        raise d.fail("sources", "must be a non-empty list")
    return CompactedManifest(
        series=d.series(m, "month."),
        start_ms=d.int_(m, "month.", "startMs", epoch=True),
        end_ms=d.int_(m, "month.", "endMs", epoch=True),
        object=d.ref(d.get(o, "", "object"), "object."),
        sources=tuple(
            (d.int_(s, f"sources[{i}].", "startMs", epoch=True), d.sha(s, f"sources[{i}].", "sha256"))
            for i, s in enumerate(sources)
        ),
    )
