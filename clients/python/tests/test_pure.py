"""The loader's pure parts, without servers: key layout, row selection (as-of), time
arguments, documents, the walk-forward splits, and the pins of the repo's .venv."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from perpflow_loader import ALIGNED_BAR_SCHEMA, DatasetInvalid, InvalidRequest, known_at_lag_ms, walk_forward_splits
from perpflow_loader.documents import parse_window_manifest
from perpflow_loader.layout import (
    SeriesId,
    encode_symbol,
    manifest_key,
    object_key,
    revisions_key,
    series_index_key,
    window_end_of,
    window_start_of,
    window_starts_covering,
)
from perpflow_loader.select import select_rows
from perpflow_loader.timeparse import to_ms

ROOT = Path(__file__).resolve().parents[3]
MIN = 60_000
DAY = 86_400_000
T0 = 1_709_251_200_000  # 2024-03-01


def utc(*a) -> int:
    return int(datetime(*a, tzinfo=timezone.utc).timestamp() * 1000)


# Layout ---------------------------------------------------------------------------------
def test_symbols_are_encoded_as_the_typescript_layout_does():
    assert encode_symbol("BTC/USDT:USDT") == "BTC%2FUSDT%3AUSDT"  # keys.ts's own example
    assert encode_symbol("ETH/USD:ETH-240628") == "ETH%2FUSD%3AETH%2D240628"


def test_keys_are_those_of_the_layout():
    s = SeriesId("binanceusdm", "BTC/USDT:USDT", "1m")
    base = "data/aligned/v1/timeframe=1m/exchange=binanceusdm/symbol=BTC%2FUSDT%3AUSDT"
    assert series_index_key("data/", s) == f"{base}/_index.json"
    assert object_key("data", s, T0) == f"{base}/date=2024-03-01/part-{T0}.parquet"
    assert manifest_key("data", s, T0) == f"{base}/date=2024-03-01/part-{T0}.manifest.json"
    assert revisions_key("data", s, T0) == f"data/aligned_revisions/v1/{base[len('data/aligned/v1/'):]}/date=2024-03-01/part-{T0}.parquet"


def test_windows_are_utc_calendar_units():
    assert window_start_of(T0 + 5 * MIN, "day") == T0
    assert window_end_of(utc(2024, 2, 1), "month") == utc(2024, 3, 1), "February 2024 has 29 days"
    assert window_end_of(utc(2023, 12, 1), "month") == utc(2024, 1, 1)
    assert window_start_of(utc(2024, 7, 9, 13), "year") == utc(2024, 1, 1)
    assert window_end_of(utc(2024, 1, 1), "year") == utc(2025, 1, 1)
    assert window_starts_covering(utc(2024, 2, 28, 12), utc(2024, 3, 2), "day") == [
        utc(2024, 2, 28),
        utc(2024, 2, 29),
        utc(2024, 3, 1),
    ]


# Row selection (select.ts's own cases) --------------------------------------------------
def bars(rows: list[dict]) -> pa.Table:
    full = []
    for r in rows:
        t = r["ts"]
        full.append(
            {
                "exchange": "binanceusdm", "symbol": "BTC/USDT:USDT", "timeframe": "1m", "ts": t,
                "open": 1.0, "high": 2.0, "low": 0.5, "close": r.get("close", 1.0), "volume": 1.0,
                "open_interest": r.get("open_interest"), "open_interest_ts": None,
                "open_interest_missing": None if r.get("open_interest") is not None else "not_observed",
                "funding_rate": None, "funding_ts": None,
                "predicted_funding_rate": None, "predicted_funding_ts": None, "funding_interval_ms": None,
                "funding_rate_8h": None, "mark_price": None, "mark_price_ts": None, "index_price": None,
                "index_price_ts": None, "basis": None, "liq_long_notional": 0.0, "liq_short_notional": 0.0, "liq_count": 0,
                "liq_price_kind": "average_fill", "liq_completeness": "snapshot_1s", "known_at": r["known_at"], "revision": r.get("revision", 0),
                "candle_filled": False, "open_interest_stale": False, "funding_stale": False,
            }
        )
    return pa.Table.from_pylist(full, schema=ALIGNED_BAR_SCHEMA)


# Bar 0: revision 0 known at +1 min, revision 1 at +1 h. Bar 1 known at +2 h. Bar 2 at +3 min.
R0 = {"ts": T0, "revision": 0, "known_at": T0 + MIN, "close": 100.0}
R1 = {"ts": T0, "revision": 1, "known_at": T0 + 60 * MIN, "close": 101.0}
LATE = {"ts": T0 + MIN, "known_at": T0 + 120 * MIN, "close": 7.0}
B2 = {"ts": T0 + 2 * MIN, "known_at": T0 + 3 * MIN, "close": 8.0}
LATEST = bars([R1, LATE, B2])
SUPERSEDED = bars([R0])


def closes(t: pa.Table) -> list[tuple[int, int, float]]:
    return [(int(r["ts"].timestamp() * 1000), r["revision"], r["close"]) for r in t.to_pylist()]


def test_without_as_of_the_last_revisions_in_range():
    assert closes(select_rows(LATEST, SUPERSEDED, T0, T0 + DAY, None)) == [(T0, 1, 101.0), (T0 + MIN, 0, 7.0), (T0 + 2 * MIN, 0, 8.0)]
    assert closes(select_rows(LATEST, None, T0 + MIN, T0 + 2 * MIN, None)) == [(T0 + MIN, 0, 7.0)], "to is exclusive"


def test_as_of_the_revision_known_then_and_nothing_not_yet_known():
    got = select_rows(LATEST, SUPERSEDED, T0, T0 + DAY, T0 + 30 * MIN)
    assert closes(got) == [(T0, 0, 100.0), (T0 + 2 * MIN, 0, 8.0)]
    assert closes(select_rows(LATEST, SUPERSEDED, T0, T0 + DAY, T0 + 60 * MIN))[0] == (T0, 1, 101.0), "known_at ≤ as_of"


def test_without_the_revisions_object_a_bar_revised_after_as_of_is_left_out():
    assert closes(select_rows(LATEST, None, T0, T0 + DAY, T0 + 30 * MIN)) == [(T0 + 2 * MIN, 0, 8.0)]


# Time arguments and documents -------------------------------------------------------------
def test_times_are_ms_utc_from_ints_aware_datetimes_and_iso_strings():
    assert to_ms(T0, "start") == T0
    assert to_ms("2024-03-01", "start") == T0
    assert to_ms("2024-03-01T01:00:00+01:00", "start") == T0
    assert to_ms("2024-03-01T00:00:00.250Z", "start") == T0 + 250
    assert to_ms(pd.Timestamp("2024-03-01", tz="UTC"), "start") == T0
    assert to_ms(datetime(2024, 3, 1, tzinfo=timezone(timedelta(hours=-5))), "end") == T0 + 5 * 3_600_000


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (datetime(2024, 3, 1), r"end datetime\.datetime\(2024, 3, 1, 0, 0\) is a naive datetime"),
        ("2024-03-01T00:00:00", r"end '2024-03-01T00:00:00' has no UTC offset"),
        ("yesterday", r"end 'yesterday' is not an ISO-8601 date or time"),
        (True, r"end must be ms UTC"),
        (1.5, r"end must be ms UTC, .* got float"),
    ],
)
def test_ambiguous_or_malformed_times_are_refused_naming_the_argument(value, message):
    with pytest.raises(InvalidRequest, match=message):
        to_ms(value, "end")


def test_a_malformed_manifest_names_its_key_and_field():
    with pytest.raises(DatasetInvalid, match=r"^k\.json: window manifest field object\.sha256 must be lower-case hex"):
        parse_window_manifest(
            b'{"manifestVersion":1,"schemaVersion":1,"window":{"exchange":"okx","symbol":"A/B:C","timeframe":"1m",'
            b'"unit":"day","startMs":1709251200000,"endMs":1709337600000},'
            b'"revisions":null,"object":{"key":"x","sha256":"XYZ","bytes":1,"rowCount":1}}',
            "k.json",
        )
    with pytest.raises(DatasetInvalid, match=r"^k\.json: window manifest is not JSON"):
        parse_window_manifest(b"{", "k.json")


# Walk-forward splits ------------------------------------------------------------------
def series_with_lag(n: int, lags_ms: np.ndarray, step=MIN) -> pd.DataFrame:
    ts = T0 + np.arange(n, dtype=np.int64) * step
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(ts, unit="ms", utc=True).astype("datetime64[ms, UTC]"),
            "known_at": pd.to_datetime(ts + lags_ms, unit="ms", utc=True).astype("datetime64[ms, UTC]"),
            "close": np.arange(n, dtype=float),
        }
    )


@pytest.mark.parametrize("seed", range(20))
def test_no_training_row_is_known_after_its_test_window_opens(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(300, 2_000))
    lags = rng.integers(MIN, 40 * MIN, n)  # late data: some bars become known long after they close
    df = series_with_lag(n, lags)
    train_ms, test_ms = int(rng.integers(30, 200)) * MIN, int(rng.integers(10, 60)) * MIN
    as_table = bool(seed % 2)
    data = pa.Table.from_pandas(df, preserve_index=False) if as_table else df
    folds = walk_forward_splits(data, train_ms=train_ms, test_ms=test_ms, expanding=bool(seed % 3 == 0))
    assert folds
    lag = int(lags.max())
    assert known_at_lag_ms(data) == lag
    for f in folds:
        train = f.train.to_pandas() if as_table else f.train
        test = f.test.to_pandas() if as_table else f.test
        assert f.test_start_ms - f.train_end_ms >= lag
        assert len(train) > 0 and len(test) > 0
        train_known = train["known_at"].astype("int64").max()
        assert train_known < f.test_start_ms, "every training row was known before the first test bar"
        assert (train["ts"].astype("int64") < f.train_end_ms).all() and (train["ts"].astype("int64") >= f.train_start_ms).all()
        assert (test["ts"].astype("int64") >= f.test_start_ms).all() and (test["ts"].astype("int64") < f.test_end_ms).all()
    assert [f.test_start_ms for f in folds] == sorted({f.test_start_ms for f in folds}), "in time order"


def test_folds_step_by_the_test_window_and_expanding_keeps_the_start():
    df = series_with_lag(600, np.full(600, 2 * MIN))
    folds = walk_forward_splits(df, train_ms=100 * MIN, test_ms=50 * MIN)
    assert [(f.train_start_ms - T0) // MIN for f in folds] == [0, 50, 100, 150, 200, 250, 300, 350, 400]
    assert [(f.test_start_ms - T0) // MIN for f in folds][:2] == [102, 152], "gap = the lag, 2 min"
    assert [len(f.test) for f in folds] == [50] * 9
    grown = walk_forward_splits(df, train_ms=100 * MIN, test_ms=50 * MIN, expanding=True)
    assert {f.train_start_ms for f in grown} == {T0} and [len(f.train) for f in grown][:3] == [100, 150, 200]


def test_a_gap_shorter_than_the_known_at_lag_is_refused():
    df = series_with_lag(600, np.full(600, 5 * MIN))
    with pytest.raises(InvalidRequest, match=r"gap_ms 60000 is shorter than the data's known_at lag \(300000 ms\)"):
        walk_forward_splits(df, train_ms=100 * MIN, test_ms=50 * MIN, gap_ms=MIN)
    assert walk_forward_splits(df, train_ms=100 * MIN, test_ms=50 * MIN, gap_ms=10 * MIN)[0].test_start_ms == T0 + 110 * MIN


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train_ms": 0, "test_ms": MIN}, r"train_ms must be an integer number of ms > 0, got 0"),
        ({"train_ms": MIN, "test_ms": 1.5}, r"test_ms must be an integer number of ms > 0, got 1\.5"),
        ({"train_ms": 10_000 * MIN, "test_ms": MIN}, r"no fold fits: train_ms 600000000"),
    ],
)
def test_split_arguments_are_checked(kwargs, message):
    with pytest.raises(InvalidRequest, match=message):
        walk_forward_splits(series_with_lag(100, np.full(100, MIN)), **kwargs)


def test_empty_bars_are_refused():
    with pytest.raises(InvalidRequest, match=r"bars is empty"):
        walk_forward_splits(ALIGNED_BAR_SCHEMA.empty_table(), train_ms=MIN, test_ms=MIN)


# The pins of the repo's .venv -------------------------------------------------------------
def test_requirements_pins_equal_the_venv_script_and_the_installed_versions():
    import boto3
    import pyarrow

    pins = dict(
        line.split("==") for line in (ROOT / "clients/python/requirements-dev.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    script = (ROOT / "packages/dataset/scripts/ensure-pyarrow-venv.sh").read_text()
    for name, var in (("pyarrow", "PYARROW"), ("pandas", "PANDAS"), ("boto3", "BOTO3"), ("pytest", "PYTEST")):
        assert re.search(rf"^{var}_VERSION={re.escape(pins[name])}$", script, re.M), f"{name} pin differs"
    assert (pyarrow.__version__, pd.__version__, boto3.__version__, pytest.__version__) == (
        pins["pyarrow"], pins["pandas"], pins["boto3"], pins["pytest"]
    )


# Settings ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"env": {"S3_PREFIX": "/escapes"}}, r"^S3_PREFIX '/escapes' is not a dataset prefix"),
        ({"prefix": "Data", "env": {}}, r"^prefix 'Data' is not a dataset prefix"),
        ({"env": {"S3_BUCKET": "x"}}, r"^S3_BUCKET 'x' is not a bucket name"),
        ({"env": {"S3_FORCE_PATH_STYLE": "maybe"}}, r"^S3_FORCE_PATH_STYLE must be true or false, got 'maybe'"),
        ({"env": {}, "integrity_retries": -1}, r"^integrity_retries must be an integer ≥ 0, got -1"),
    ],
)
def test_a_wrong_setting_is_named(kwargs, message, tmp_path):
    from perpflow_loader import InvalidConfig, Loader

    with pytest.raises(InvalidConfig, match=message):
        Loader(cache_dir=tmp_path, **kwargs)


# Layout 1 files (before funding_interval_ms, funding_rate_8h, liq_price_kind, liq_completeness)
def test_layout_1_tables_get_the_layout_2_columns_with_the_venues_semantics():
    from perpflow_loader.loader import LAYOUT_1_NAMES, _with_newer_columns

    t = bars([R0, B2])
    old = t.select(LAYOUT_1_NAMES)
    old = old.set_column(0, "exchange", pa.array(["binanceusdm", "bybit"], pa.string()))
    back = _with_newer_columns(old)
    assert back.schema.names == ALIGNED_BAR_SCHEMA.names
    assert back.column("funding_interval_ms").to_pylist() == [None, None]
    assert back.column("funding_rate_8h").to_pylist() == [None, None]
    assert back.column("basis").to_pylist() == [None, None]
    assert back.column("liq_price_kind").to_pylist() == ["average_fill", "bankruptcy"]
    assert back.column("liq_completeness").to_pylist() == ["snapshot_1s", "all"]
    assert back.cast(ALIGNED_BAR_SCHEMA).num_rows == 2


# Layout 2 files (before open_interest_missing; liquidation columns required)
def test_layout_2_tables_get_the_open_interest_reason_where_open_interest_is_null():
    from perpflow_loader.loader import LAYOUT_2_NAMES, _with_newer_columns

    t = bars([{**R0, "open_interest": 5.0}, B2])
    back = _with_newer_columns(t.select(LAYOUT_2_NAMES))
    assert back.schema.names == ALIGNED_BAR_SCHEMA.names
    assert back.column("open_interest_missing").to_pylist() == [None, "not_observed"]
    assert back.column("liq_price_kind").to_pylist() == ["average_fill", "average_fill"]
    assert back.cast(ALIGNED_BAR_SCHEMA).num_rows == 2


# Layout 3: a venue without a liquidation source has null liquidation columns, not 0
def test_layout_3_keeps_null_liquidations_of_a_venue_without_a_source():
    t = bars([R0])
    for name in ("liq_long_notional", "liq_short_notional", "liq_count", "liq_price_kind"):
        i = t.schema.get_field_index(name)
        t = t.set_column(i, ALIGNED_BAR_SCHEMA.field(name), pa.nulls(1, ALIGNED_BAR_SCHEMA.field(name).type))
    t = t.set_column(t.schema.get_field_index("liq_completeness"), ALIGNED_BAR_SCHEMA.field("liq_completeness"),
                     pa.array(["none"], pa.string()))
    back = t.cast(ALIGNED_BAR_SCHEMA)
    assert back.column("liq_count").to_pylist() == [None]
    assert back.column("liq_long_notional").to_pylist() == [None]
