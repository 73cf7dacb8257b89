"""load_bars: aligned bars of one series straight from the dataset on S3, read the way
`perpflow pull` reads them (services/windower/src/pull/pull.ts): series index →
manifests → objects, every object verified against its manifest's sha256 (a mismatch
is re-read, then fails), rows selected by range and as-of, a compacted month read
instead of its days when it stands for exactly the days the index lists."""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .cache import LocalCache, default_cache_dir
from .documents import (
    IndexEntry,
    ObjectRef,
    SeriesIndex,
    WindowManifest,
    parse_compacted_manifest,
    parse_series_index,
    parse_window_manifest,
)
from .errors import (
    DatasetInvalid,
    IndexNotFound,
    IntegrityError,
    InvalidConfig,
    InvalidRequest,
    ManifestMissing,
    VersionNotFound,
)
from .layout import (
    SeriesId,
    check_series,
    compacted_manifest_key,
    compacted_object_key,
    manifest_key,
    normalize_prefix,
    object_key,
    revisions_key,
    series_index_key,
    window_end_of,
    window_start_of,
    window_starts_covering,
)
from .select import select_rows
from .timeparse import to_ms

_VERSION_ID = re.compile(r"dv-[0-9a-f]{16}")

_TS = pa.timestamp("ms", tz="UTC")
# The Parquet row layout of AlignedBar (packages/dataset/src/parquet/columns.ts).
ALIGNED_BAR_SCHEMA = pa.schema(
    [
        pa.field("exchange", pa.string(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("timeframe", pa.string(), nullable=False),
        pa.field("ts", _TS, nullable=False),
        pa.field("open", pa.float64(), nullable=False),
        pa.field("high", pa.float64(), nullable=False),
        pa.field("low", pa.float64(), nullable=False),
        pa.field("close", pa.float64(), nullable=False),
        pa.field("volume", pa.float64(), nullable=False),
        pa.field("open_interest", pa.float64()),
        pa.field("open_interest_ts", _TS),
        pa.field("open_interest_missing", pa.string()),
        pa.field("funding_rate", pa.float64()),
        pa.field("funding_ts", _TS),
        pa.field("predicted_funding_rate", pa.float64()),
        pa.field("predicted_funding_ts", _TS),
        pa.field("funding_interval_ms", pa.int32()),
        pa.field("funding_rate_8h", pa.float64()),
        pa.field("mark_price", pa.float64()),
        pa.field("mark_price_ts", _TS),
        pa.field("index_price", pa.float64()),
        pa.field("index_price_ts", _TS),
        pa.field("basis", pa.float64()),
        # Null exactly where liq_completeness is 'none' (no liquidation source), since layout 3.
        pa.field("liq_long_notional", pa.float64()),
        pa.field("liq_short_notional", pa.float64()),
        pa.field("liq_count", pa.int32()),
        pa.field("liq_price_kind", pa.string()),
        pa.field("liq_completeness", pa.string(), nullable=False),
        pa.field("known_at", _TS, nullable=False),
        pa.field("revision", pa.int32(), nullable=False),
        pa.field("candle_filled", pa.bool_(), nullable=False),
        pa.field("open_interest_stale", pa.bool_(), nullable=False),
        pa.field("funding_stale", pa.bool_(), nullable=False),
    ]
)

# Columns added in layout 2 (issue #14). Files of layout 1 are read with the interval, the
# 8 h rate, mark, index and basis null and the venue's liquidation semantics (LIQUIDATION_SEMANTICS in
# packages/contracts/src/exchanges.ts).
_LAYOUT_2_NUMBERS = ("funding_interval_ms", "funding_rate_8h", "mark_price", "mark_price_ts", "index_price",
                     "index_price_ts", "basis")
_LAYOUT_2_COLUMNS = (*_LAYOUT_2_NUMBERS, "liq_price_kind", "liq_completeness")
# Added in layout 3; files of layouts 1 and 2 read it as 'not_observed' where open_interest is
# null, else null (every venue then served open-interest history).
_LAYOUT_3_COLUMNS = ("open_interest_missing",)
LAYOUT_2_NAMES = [n for n in ALIGNED_BAR_SCHEMA.names if n not in _LAYOUT_3_COLUMNS]
LAYOUT_1_NAMES = [n for n in LAYOUT_2_NAMES if n not in _LAYOUT_2_COLUMNS]
LIQUIDATION_SEMANTICS = {
    "binanceusdm": ("average_fill", "snapshot_1s"),
    "bybit": ("bankruptcy", "all"),
    "okx": ("bankruptcy", "unknown"),
    "hyperliquid": (None, "none"),
}


def _with_newer_columns(t: pa.Table) -> pa.Table:
    """A layout 1 or 2 table with the columns of the later layouts added, in the schema's order."""
    n = t.num_rows
    added = {
        "open_interest_missing": pc.if_else(
            pc.is_null(t["open_interest"]), pa.scalar("not_observed"), pa.scalar(None, pa.string())
        ),
    }
    if "liq_completeness" not in t.column_names:
        semantics = [LIQUIDATION_SEMANTICS.get(e, ("unknown", "unknown")) for e in t["exchange"].to_pylist()]
        added.update(
            {name: pa.nulls(n, ALIGNED_BAR_SCHEMA.field(name).type) for name in _LAYOUT_2_NUMBERS},
            liq_price_kind=pa.array([k for k, _ in semantics], pa.string()),
            liq_completeness=pa.array([c for _, c in semantics], pa.string()),
        )
    return pa.table([t[name] if name in t.column_names else added[name] for name in ALIGNED_BAR_SCHEMA.names],
                    names=ALIGNED_BAR_SCHEMA.names)


_NOT_MODIFIED = object()


class _Mismatch(Exception):
    """Bytes that do not match their manifest: re-read before giving up (a write raced us)."""


class Loader:
    """Reads the dataset under one bucket and prefix; keeps one S3 client and one cache.

    Settings default to the windower's variables: S3_ENDPOINT (empty: AWS), S3_REGION
    (us-east-1), S3_BUCKET (perpflow), S3_PREFIX (datasets), S3_ACCESS_KEY_ID and
    S3_SECRET_ACCESS_KEY (unset: boto3's own credential chain), S3_FORCE_PATH_STYLE
    (true); the cache lives in PERPFLOW_CACHE_DIR (default ~/.cache/perpflow).
    ``max_workers`` (1-64, default 8): a series' windows read by that many threads at once
    (each read is a round trip to S3); the rows are the same, in the same order.
    """

    def __init__(
        self,
        *,
        bucket: str | None = None,
        prefix: str | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        client: Any = None,
        integrity_retries: int = 2,
        max_workers: int = 8,
        env: Mapping[str, str] | None = None,
    ):
        env = os.environ if env is None else env
        self.bucket = bucket if bucket is not None else env.get("S3_BUCKET", "perpflow")
        if not isinstance(self.bucket, str) or len(self.bucket) < 3:
            raise InvalidConfig(f"{'bucket' if bucket is not None else 'S3_BUCKET'} {self.bucket!r} is not a bucket name")
        self.prefix = normalize_prefix(
            prefix if prefix is not None else env.get("S3_PREFIX", "datasets"),
            "prefix" if prefix is not None else "S3_PREFIX",
        )
        if not isinstance(integrity_retries, int) or integrity_retries < 0:
            raise InvalidConfig(f"integrity_retries must be an integer ≥ 0, got {integrity_retries!r}")
        self.integrity_retries = integrity_retries
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or not 1 <= max_workers <= 64:
            raise InvalidConfig(f"max_workers must be an integer from 1 to 64, got {max_workers!r}")
        self.max_workers = max_workers
        self.cache = LocalCache(Path(cache_dir) if cache_dir is not None else default_cache_dir())
        self.client = client if client is not None else _make_client(endpoint_url, region, env)

    # Public -----------------------------------------------------------------------
    def load_bars(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        start: Any,
        end: Any,
        as_of: Any = None,
        version: Any = None,
        *,
        output: str = "pandas",
    ) -> Any:
        """Bars of one series with open time in [start, end), sorted by time; see load_bars."""
        if output not in ("pandas", "arrow"):
            raise InvalidRequest(f"output must be 'pandas' or 'arrow', got {output!r}")
        series = check_series(exchange, symbol, timeframe)
        from_ms, to_ms_ = to_ms(start, "start"), to_ms(end, "end")
        if from_ms >= to_ms_:
            raise InvalidRequest(f"empty range: start ({from_ms}) must be before end ({to_ms_}); end is exclusive")
        as_of_ms = None if as_of is None else to_ms(as_of, "as_of")
        reader = self if version is None else self._version_reader(version, series)
        table = reader._load(series, from_ms, to_ms_, as_of_ms)
        return table if output == "arrow" else table.to_pandas()

    # Dataset versions -------------------------------------------------------------
    def _version_reader(self, version: Any, series: SeriesId) -> "Loader":
        """This loader on the tree holding ``version``: the live tree when its pin
        (``<prefix>/versions/live.json``) names it, else the version's own tree
        ``<prefix>/versions/<id>/`` when it holds the series."""
        if not isinstance(version, str) or not _VERSION_ID.fullmatch(version):
            raise InvalidRequest(f"version={version!r}: a dataset version is dv- and 16 lower-case hex digits, or None")
        pin_key = f"{self.prefix}/versions/live.json"
        got = self._get(pin_key)
        pinned = None
        if got is not None and got is not _NOT_MODIFIED:
            try:
                pinned = json.loads(got[0]).get("version")
            except (ValueError, AttributeError) as e:
                raise DatasetInvalid(f"s3://{self.bucket}/{pin_key} is not a version pin: {e}") from e
        if pinned == version:
            return self
        tree = copy.copy(self)
        tree.prefix = f"{self.prefix}/versions/{version}"
        if tree._get(series_index_key(tree.prefix, series)) is None:
            raise VersionNotFound(
                f"version={version!r}: no tree holds it for {series.exchange} {series.symbol} {series.timeframe} "
                f"under prefix '{self.prefix}': the live tree holds {pinned or 'no pinned version'}, and "
                f"{tree.prefix}/ has no series index; `perpflow datasets` lists the versions"
            )
        return tree

    # The read ---------------------------------------------------------------------
    def _load(self, series: SeriesId, from_ms: int, to_ms_: int, as_of_ms: int | None) -> pa.Table:
        index_key = series_index_key(self.prefix, series)
        index = self._index(series, index_key)
        listed = {e.start_ms: e for e in index.windows}
        planned: list[IndexEntry] = []
        for start in window_starts_covering(from_ms, to_ms_, index.unit):
            e = listed.get(start)
            if e is None or e.row_count == 0 or e.min_ts_ms is None or e.max_ts_ms is None:
                continue
            if e.max_ts_ms < from_ms or e.min_ts_ms >= to_ms_:
                continue
            self._check_entry(series, index, e, index_key)
            planned.append(e)

        # Each part in order: a compacted month (read here), or a window's rows (read by up
        # to max_workers threads at once: each read is a round trip to S3).
        steps: list[Callable[[], pa.Table]] = []
        for month_start, group in _month_groups(planned, index.unit):
            month = None if month_start is None else self._compacted_month(series, index, month_start, as_of_ms)
            if month is not None:
                rows = select_rows(month, None, from_ms, to_ms_, as_of_ms)
                steps.append(lambda rows=rows: rows)
                continue
            for e in group:
                steps.append(functools.partial(self._window_rows, series, index, e, from_ms, to_ms_, as_of_ms))
        parts = self._in_order(steps)
        if not parts:
            return ALIGNED_BAR_SCHEMA.empty_table()
        return pa.concat_tables(parts)

    def _window_rows(
        self, series: SeriesId, index: SeriesIndex, e: IndexEntry, from_ms: int, to_ms_: int, as_of_ms: int | None
    ) -> pa.Table:
        latest, superseded = self._window(series, index, e, as_of_ms)
        return select_rows(latest, superseded, from_ms, to_ms_, as_of_ms)

    def _in_order(self, steps: list[Callable[[], pa.Table]]) -> list[pa.Table]:
        """Every step's result in step order, up to max_workers steps running at once; the
        first failure in step order is raised (steps not started yet are cancelled)."""
        if self.max_workers == 1 or len(steps) < 2:
            return [step() for step in steps]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(steps))) as pool:
            futures = [pool.submit(step) for step in steps]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def _index(self, series: SeriesId, key: str) -> SeriesIndex:
        cached = self.cache.get_doc("index", self.bucket, key)
        got = self._get(key, if_none_match=cached["etag"] if cached and cached.get("etag") else None)
        if got is None:
            raise IndexNotFound(
                f"no series index at s3://{self.bucket}/{key}: nothing was written for "
                f"{series.exchange} {series.symbol} {series.timeframe} under prefix '{self.prefix}'; "
                "check exchange, symbol and timeframe, the prefix (S3_PREFIX), "
                "or that the windower has consumed this series"
            )
        if got is _NOT_MODIFIED:
            raw = cached["body"].encode()
        else:
            raw, etag = got
            self.cache.put_doc("index", self.bucket, key, {"etag": etag, "body": raw.decode("utf-8", "replace")})
        index = parse_series_index(raw, key)
        if index.series != series:
            raise DatasetInvalid(f"{key}: the index describes {index.series}, not {series}")
        return index

    def _check_entry(self, series: SeriesId, index: SeriesIndex, e: IndexEntry, index_key: str) -> None:
        """A listed window must be where the layout puts it: keys are computed, never trusted."""
        where = f"{index_key}: window {e.start_ms}"
        if window_start_of(e.start_ms, index.unit) != e.start_ms or e.end_ms != window_end_of(e.start_ms, index.unit):
            raise DatasetInvalid(f"{where} [{e.start_ms}, {e.end_ms}) is not a UTC {index.unit}")
        for name, got, want in (
            ("manifestKey", e.manifest_key, manifest_key(self.prefix, series, e.start_ms)),
            ("objectKey", e.object_key, object_key(self.prefix, series, e.start_ms)),
        ):
            if got != want:
                raise DatasetInvalid(f"{where}: {name} is {got!r}, the layout says {want!r}")

    def _window(
        self, series: SeriesId, index: SeriesIndex, e: IndexEntry, as_of_ms: int | None
    ) -> tuple[pa.Table, pa.Table | None]:
        for attempt in range(self.integrity_retries + 1):
            m = self._manifest(series, index, e, fresh=attempt > 0)
            need_revisions = (
                as_of_ms is not None
                and m.revisions is not None
                and (m.max_known_at_ms is None or as_of_ms < m.max_known_at_ms)
            )
            try:
                latest_bytes = self._object(m.object)
                rev_bytes = self._object(m.revisions) if need_revisions and m.revisions else None
            except _Mismatch as err:
                if attempt < self.integrity_retries:
                    continue
                raise IntegrityError(
                    f"{err} (after {self.integrity_retries + 1} reads). The object does not match its manifest: "
                    "if the windower is writing this window, load again in a minute; if it persists the object "
                    "is corrupt: restart the windower from an earlier offset to rewrite it"
                ) from err
            latest = self._decode(latest_bytes, m.object, series, e.start_ms, e.end_ms)
            superseded = (
                None
                if rev_bytes is None or m.revisions is None
                else self._decode(rev_bytes, m.revisions, series, e.start_ms, e.end_ms)
            )
            return latest, superseded
        raise AssertionError("unreachable")

    def _manifest(self, series: SeriesId, index: SeriesIndex, e: IndexEntry, fresh: bool) -> WindowManifest:
        key = e.manifest_key
        current = {"sha256": e.sha256, "writtenAtMs": e.written_at_ms}
        cached = None if fresh else self.cache.get_doc("manifest", self.bucket, key)
        if cached and cached.get("entry") == current:
            raw = cached["body"].encode()
        else:
            got = self._get(key)
            if got is None:
                raise ManifestMissing(
                    f"{key} is listed in the series index but missing: the dataset was partly deleted; "
                    "rebuild the index (rebuildSeriesIndex) or load a range without that window"
                )
            raw = got[0]
        m = parse_window_manifest(raw, key)
        want = (series, index.unit, e.start_ms, e.end_ms)
        if (m.series, m.unit, m.start_ms, m.end_ms) != want:
            raise DatasetInvalid(
                f"{key}: describes {m.series} {m.unit} [{m.start_ms}, {m.end_ms}), "
                f"the index lists it for {series} {index.unit} [{e.start_ms}, {e.end_ms})"
            )
        if m.object.key != e.object_key:
            raise DatasetInvalid(f"{key}: object.key is {m.object.key!r}, the layout says {e.object_key!r}")
        want_rev = revisions_key(self.prefix, series, e.start_ms)
        if m.revisions is not None and m.revisions.key != want_rev:
            raise DatasetInvalid(f"{key}: revisions.key is {m.revisions.key!r}, the layout says {want_rev!r}")
        # Cached only when it is the manifest the index entry describes (not a newer one racing it).
        if m.object.sha256 == e.sha256 and not (cached and cached.get("entry") == current):
            self.cache.put_doc("manifest", self.bucket, key, {"entry": current, "body": raw.decode()})
        return m

    def _object(self, ref: ObjectRef) -> bytes:
        data = self.cache.get_object(ref.sha256)
        if data is not None and len(data) == ref.bytes:
            return data
        got = self._get(ref.key)
        if got is None:
            raise _Mismatch(f"{ref.key}: missing, manifest says {ref.bytes} bytes")
        data = got[0]
        if len(data) != ref.bytes:
            raise _Mismatch(f"{ref.key}: {len(data)} bytes, manifest says {ref.bytes}")
        sha = hashlib.sha256(data).hexdigest()
        if sha != ref.sha256:
            raise _Mismatch(f"{ref.key}: sha256 {sha}, manifest says {ref.sha256}")
        self.cache.put_object(ref.sha256, data)
        return data

    def _decode(self, data: bytes, ref: ObjectRef, series: SeriesId, start_ms: int, end_ms: int) -> pa.Table:
        """The object's rows, checked against the series and window they were asked for."""
        try:
            t = pq.read_table(io.BytesIO(data))
        except Exception as e:  # pyarrow raises several kinds for a bad file
            raise DatasetInvalid(f"{ref.key}: not a readable Parquet file ({e})") from e
        names = t.column_names
        if names in (LAYOUT_1_NAMES, LAYOUT_2_NAMES):
            t = _with_newer_columns(t)
            names = t.column_names
        if names != ALIGNED_BAR_SCHEMA.names:
            missing = [n for n in ALIGNED_BAR_SCHEMA.names if n not in names]
            extra = [n for n in names if n not in ALIGNED_BAR_SCHEMA.names]
            raise DatasetInvalid(f"{ref.key}: columns differ from AlignedBar v1 (missing {missing}, unexpected {extra})")
        try:
            t = t.cast(ALIGNED_BAR_SCHEMA)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise DatasetInvalid(f"{ref.key}: column types differ from AlignedBar v1 ({e})") from e
        if t.num_rows != ref.row_count:
            raise DatasetInvalid(f"{ref.key}: {t.num_rows} rows, manifest says {ref.row_count}")
        for col, want in (("exchange", series.exchange), ("symbol", series.symbol), ("timeframe", series.timeframe)):
            bad = pc.not_equal(t[col], want)
            if t.num_rows and pc.any(bad).as_py():
                i = pc.index(bad, True).as_py()
                raise DatasetInvalid(f"{ref.key}: row {i} has {col} {t[col][i].as_py()!r}, asked for {want!r}")
        ts = pc.cast(t["ts"], pa.int64())
        outside = pc.or_(pc.less(ts, start_ms), pc.greater_equal(ts, end_ms))
        if t.num_rows and pc.any(outside).as_py():
            i = pc.index(outside, True).as_py()
            raise DatasetInvalid(f"{ref.key}: row {i} has ts {ts[i].as_py()}, outside its window [{start_ms}, {end_ms})")
        return t

    def _compacted_month(
        self, series: SeriesId, index: SeriesIndex, month_start: int, as_of_ms: int | None
    ) -> pa.Table | None:
        """The compacted month when it stands for exactly the days the index lists (and the
        read needs no revisions) and its bytes match its manifest; otherwise None and the
        days are read. Never an error: the day objects are the source of truth."""
        month_end = window_end_of(month_start, "month")
        entries = [e for e in index.windows if month_start <= e.start_ms < month_end]
        if as_of_ms is not None and any(e.has_revisions for e in entries):
            return None
        sources = [[e.start_ms, e.sha256] for e in entries]
        key = compacted_manifest_key(self.prefix, series, month_start)
        cached = self.cache.get_doc("compacted", self.bucket, key)
        if cached and cached.get("sources") == sources:
            if not cached.get("usable"):
                return None
            m = parse_compacted_manifest(cached["body"].encode(), key)
        else:
            got = self._get(key)
            m = None
            if got is not None:
                try:
                    m = parse_compacted_manifest(got[0], key)
                except DatasetInvalid:
                    m = None
            usable = (
                m is not None
                and m.series == series
                and (m.start_ms, m.end_ms) == (month_start, month_end)
                and sorted(m.sources) == sorted((s, h) for s, h in sources)
                and m.object.key == compacted_object_key(self.prefix, series, month_start)
            )
            # Remembered for these sources: a month compacted later is picked up once the
            # index changes; until then the days give the same rows.
            self.cache.put_doc(
                "compacted",
                self.bucket,
                key,
                {"sources": sources, "usable": usable, "body": got[0].decode() if usable and got else None},
            )
            if not usable:
                return None
        assert m is not None
        try:
            data = self._object(m.object)
            return self._decode(data, m.object, series, month_start, month_end)
        except (_Mismatch, DatasetInvalid):
            return None

    def _get(self, key: str, if_none_match: str | None = None) -> Any:
        """(bytes, etag), None when the key does not exist, _NOT_MODIFIED on a 304."""
        from botocore.exceptions import ClientError

        kw = {"IfNoneMatch": if_none_match} if if_none_match else {}
        try:
            r = self.client.get_object(Bucket=self.bucket, Key=key, **kw)
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code"))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 304 or code in ("304", "NotModified"):
                return _NOT_MODIFIED
            if status == 404 or code in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return r["Body"].read(), r.get("ETag")


def _month_groups(entries: list[IndexEntry], unit: str) -> list[tuple[int | None, list[IndexEntry]]]:
    """Planned windows by UTC month (day windows); other units: one group per window, never compacted."""
    groups: list[tuple[int | None, list[IndexEntry]]] = []
    for e in entries:
        month = window_start_of(e.start_ms, "month") if unit == "day" else None
        if groups and month is not None and groups[-1][0] == month:
            groups[-1][1].append(e)
        else:
            groups.append((month, [e]))
    return groups


def _make_client(endpoint_url: str | None, region: str | None, env: Mapping[str, str]) -> Any:
    import boto3
    from botocore.config import Config

    path_style = env.get("S3_FORCE_PATH_STYLE", "true").lower()
    if path_style not in ("true", "false", "1", "0"):
        raise InvalidConfig(f"S3_FORCE_PATH_STYLE must be true or false, got {path_style!r}")
    kw: dict[str, Any] = {
        "region_name": region or env.get("S3_REGION") or "us-east-1",
        "config": Config(s3={"addressing_style": "path" if path_style in ("true", "1") else "auto"}),
    }
    endpoint = endpoint_url if endpoint_url is not None else env.get("S3_ENDPOINT")
    if endpoint:
        kw["endpoint_url"] = endpoint
    if env.get("S3_ACCESS_KEY_ID") and env.get("S3_SECRET_ACCESS_KEY"):
        kw["aws_access_key_id"] = env["S3_ACCESS_KEY_ID"]
        kw["aws_secret_access_key"] = env["S3_SECRET_ACCESS_KEY"]
    return boto3.client("s3", **kw)


_default: Loader | None = None


def load_bars(
    exchange: str,
    symbol: str,
    timeframe: str,
    start: Any,
    end: Any,
    as_of: Any = None,
    version: Any = None,
    *,
    output: str = "pandas",
    loader: Loader | None = None,
) -> Any:
    """Aligned bars of (exchange, symbol, timeframe) with open time in [start, end),
    sorted by time, as a pandas DataFrame (output='arrow': a pyarrow Table) in the
    dataset's column layout. ``as_of``: only what was known then (per bar, the highest
    revision with known_at ≤ as_of). ``version``: a dataset version id (``dv-`` and 16
    hex digits; `perpflow datasets` lists them), or None for the live tree. Times: int ms UTC, timezone-aware datetime, or ISO-8601 string."""
    global _default
    if loader is None:
        if _default is None:
            _default = Loader()
        loader = _default
    return loader.load_bars(exchange, symbol, timeframe, start, end, as_of, version, output=output)


__all__ = ["ALIGNED_BAR_SCHEMA", "Loader", "load_bars"]
