"""load_bars against the local stack's S3, on datasets written by the project's own
writer: the same rows as `perpflow pull` (as-of and compacted months included), the
cache, and the errors. See conftest.py for the fixtures."""

from __future__ import annotations

import hashlib
import io
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, RequestLog, _node

from perpflow_loader import (
    ALIGNED_BAR_SCHEMA,
    DatasetInvalid,
    IndexNotFound,
    IntegrityError,
    InvalidConfig,
    InvalidRequest,
    Loader,
    ManifestMissing,
    VersionNotFound,
)
from perpflow_loader.layout import SeriesId, compacted_manifest_key, compacted_object_key, series_index_key

TF = 60_000
DAY = 86_400_000
FEB27, FEB28, FEB29 = 1_708_992_000_000, 1_709_078_400_000, 1_709_164_800_000
MAR1 = 1_709_251_200_000
MAR2 = MAR1 + DAY
FEB = 1_706_745_600_000  # 2024-02-01
END = MAR2 + DAY  # exclusive: every bar of the fixture
REV0_KNOWN = MAR1 + 10 * TF + TF + 700  # bar 10 of 2024-03-01, revision 0
REV1_KNOWN = REV0_KNOWN + 10_000  # …and revision 1


def loader_for(d, tmp_path, name="cache") -> Loader:
    return Loader(prefix=d.prefix, cache_dir=tmp_path / name, env=d.env)


def pulled_table(d, tmp_path, start, end, as_of=None, skip_compacted=False, timeframe="1m"):
    out = tmp_path / f"pull-{timeframe}-{start}-{end}-{as_of}-{skip_compacted}"
    report = d.pull(out, start, end, as_of, skip_compacted, timeframe)
    merged = out / "merged.parquet"
    table = pq.read_table(merged).cast(ALIGNED_BAR_SCHEMA) if merged.exists() else ALIGNED_BAR_SCHEMA.empty_table()
    return table, report


HOUR = 3_600_000
# (timeframe, start, end, as_of, rows, pull --skip-compacted)
CASES = {
    "every bar, last revisions": ("1m", FEB27, END, None, 299, False),
    "every bar, pull reading day objects only": ("1m", FEB27, END, None, 299, True),
    "as of between bar 10's revisions": ("1m", FEB27, END, REV0_KNOWN + 1_000, 191, False),
    "as of revision 1's known_at": ("1m", FEB27, END, REV1_KNOWN, 191, False),
    "as of mid-February (compacted month)": ("1m", FEB27, END, FEB28 + 30 * TF, 89, False),
    "as of before any bar was known": ("1m", FEB27, END, FEB27, 0, False),
    "part of two days, across the month boundary": ("1m", FEB29 + 30 * TF, MAR1 + 15 * TF, None, 45, False),
    "1h (month windows), every bar": ("1h", FEB27, END, None, 71, False),
    "1h, as of between hour 5's revisions": ("1h", FEB27, END, MAR1 + 6 * HOUR + 1_700, 54, False),
    "1h, part of a month": ("1h", MAR1 + 3 * HOUR, MAR1 + 20 * HOUR, None, 16, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_returns_the_rows_perpflow_pull_returns(dataset, tmp_path, case):
    timeframe, start, end, as_of, rows, skip_compacted = CASES[case]
    want, report = pulled_table(dataset, tmp_path, start, end, as_of, skip_compacted, timeframe)
    got = loader_for(dataset, tmp_path).load_bars(
        dataset.exchange, dataset.symbol, timeframe, start, end, as_of=as_of, output="arrow"
    )
    assert report["rows"] == rows
    assert got.num_rows == rows
    assert got.schema == ALIGNED_BAR_SCHEMA
    assert got.to_pylist() == want.to_pylist(), "every row and column equals perpflow pull's"
    if as_of is not None:
        assert all(r["known_at"].timestamp() * 1000 <= as_of for r in got.to_pylist()), "no look-ahead"


def test_as_of_returns_the_revision_known_then(dataset, tmp_path):
    loader = loader_for(dataset, tmp_path)
    args = (dataset.exchange, dataset.symbol, dataset.timeframe, MAR1 + 10 * TF, MAR1 + 11 * TF)
    before = loader.load_bars(*args, as_of=REV0_KNOWN + 1_000)
    after = loader.load_bars(*args, as_of=REV1_KNOWN)
    latest = loader.load_bars(*args)
    assert before["revision"].tolist() == [0]
    assert after["revision"].tolist() == [1] == latest["revision"].tolist()
    assert after["close"].iloc[0] == pytest.approx(before["close"].iloc[0] + 1), "revision 1 moved the price by 1"


def test_returns_a_dataframe_by_default_equal_to_the_pulled_file(dataset, tmp_path):
    want, _ = pulled_table(dataset, tmp_path, FEB27, END)
    got = loader_for(dataset, tmp_path).load_bars(dataset.exchange, dataset.symbol, "1m", "2024-02-27", "2024-03-03")
    assert isinstance(got, pd.DataFrame)
    pd.testing.assert_frame_equal(got, want.to_pandas())
    assert str(got["ts"].dtype) == "datetime64[ms, UTC]"


def test_reads_a_compacted_month_instead_of_its_days_unless_as_of_needs_revisions(dataset, tmp_path, bucket):
    series = SeriesId(dataset.exchange, dataset.symbol, dataset.timeframe)
    compacted = compacted_object_key(dataset.prefix, series, FEB)
    assert compacted == dataset.info["compactedObjectKey"], "the layout computes the writer's key"
    assert compacted_manifest_key(dataset.prefix, series, FEB) == dataset.info["compactedManifestKey"]
    assert series_index_key(dataset.prefix, series) == dataset.info["indexKey"]
    day_objects = {w["startMs"]: w["objectKey"] for w in dataset.info["windows"]}

    loader = loader_for(dataset, tmp_path)
    log = RequestLog(loader.client, bucket)
    loader.load_bars(dataset.exchange, dataset.symbol, "1m", FEB27, MAR1, as_of=FEB28 + 30 * TF)
    gets = [k for _, k in log.requests]
    assert compacted in gets
    assert not {day_objects[d] for d in (FEB27, FEB28, FEB29)} & set(gets), "no February day object read"
    assert not any("aligned_revisions" in k for k in gets), "February has no revisions: none read"

    # As of a time between bar 10's revisions, 2024-03-01 needs its revisions object.
    fresh = loader_for(dataset, tmp_path, "fresh")
    log = RequestLog(fresh.client, bucket)
    fresh.load_bars(dataset.exchange, dataset.symbol, "1m", MAR1, END, as_of=REV0_KNOWN + 1_000)
    rev = [k for _, k in log.requests if "aligned_revisions" in k]
    assert len(rev) == 1 and rev[0].endswith(f"date=2024-03-01/part-{MAR1}.parquet")


def test_a_second_call_costs_no_object_get(dataset, tmp_path, bucket):
    loader = loader_for(dataset, tmp_path)
    log = RequestLog(loader.client, bucket)
    first = loader.load_bars(dataset.exchange, dataset.symbol, "1m", FEB27, END, output="arrow")
    # The index; February's compacted manifest and object; March's compacted manifest (none
    # there: 404); 2024-03-01's and 03-02's manifest and object.
    assert len(log.requests) == 8, log.requests
    log.clear()
    second = loader.load_bars(dataset.exchange, dataset.symbol, "1m", FEB27, END, output="arrow")
    index_key = dataset.info["indexKey"]
    assert log.requests == [("GET if-none-match", index_key)], "only the index, answered 304 Not Modified"
    assert second.equals(first)
    # A new Loader on the same cache directory (a new process) is served the same way.
    again = loader_for(dataset, tmp_path)
    log3 = RequestLog(again.client, bucket)
    assert again.load_bars(dataset.exchange, dataset.symbol, "1m", FEB27, END, output="arrow").equals(first)
    assert log3.requests == [("GET if-none-match", index_key)]


def test_a_changed_index_invalidates_only_what_changed(own_dataset, tmp_path, bucket):
    d = own_dataset
    loader = loader_for(d, tmp_path)
    before = loader.load_bars(d.exchange, d.symbol, "1m", FEB27, END, output="arrow")
    assert before.num_rows == 299
    d.extend()  # 2024-03-02 rewritten with one more bar: its index entry changes, nothing else
    log = RequestLog(loader.client, bucket)
    after = loader.load_bars(d.exchange, d.symbol, "1m", FEB27, END, output="arrow")
    mar2 = next(w for w in d.info["windows"] if w["startMs"] == MAR2)
    series = SeriesId(d.exchange, d.symbol, d.timeframe)
    assert log.requests == [
        ("GET if-none-match", d.info["indexKey"]),  # 200: a new index
        ("GET", compacted_manifest_key(d.prefix, series, MAR1)),  # March's days changed: asked again
        ("GET", mar2["manifestKey"]),
        ("GET", mar2["objectKey"]),
    ]
    assert after.num_rows == 300
    want, _ = pulled_table(d, tmp_path, FEB27, END)
    assert after.to_pylist() == want.to_pylist()


# Errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("exchange", "symbol", "timeframe", "message"),
    [
        ("binanceusdm", "BTCUSDT", "1m", r"symbol 'BTCUSDT' is not a ccxt unified symbol"),
        ("binanceusdm", "btc/usdt:usdt", "1m", r"symbol 'btc/usdt:usdt' is not a ccxt unified symbol"),
        ("binance", "BTC/USDT:USDT", "1m", r"exchange 'binance' is not one of binanceusdm, bybit, okx"),
        ("okx", "BTC/USDT:USDT", "2m", r"timeframe '2m' is not one of 1m, 5m"),
    ],
)
def test_refuses_a_wrong_series_naming_it(dataset, tmp_path, exchange, symbol, timeframe, message):
    with pytest.raises(InvalidRequest, match=message):
        loader_for(dataset, tmp_path).load_bars(exchange, symbol, timeframe, FEB27, END)


def test_a_series_never_written_names_its_missing_index(dataset, tmp_path):
    with pytest.raises(IndexNotFound) as e:
        loader_for(dataset, tmp_path).load_bars("okx", dataset.symbol, "1m", FEB27, END)
    key = series_index_key(dataset.prefix, SeriesId("okx", dataset.symbol, "1m"))
    assert f"no series index at s3://{dataset.bucket}/{key}" in str(e.value)
    assert f"okx {dataset.symbol} 1m under prefix '{dataset.prefix}'" in str(e.value)


@pytest.mark.parametrize(("start", "end"), [(MAR1, MAR1), (MAR2, MAR1), ("2024-03-02", "2024-03-01")])
def test_refuses_an_empty_range(dataset, tmp_path, start, end):
    with pytest.raises(InvalidRequest, match=r"empty range: start \(\d+\) must be before end \(\d+\); end is exclusive"):
        loader_for(dataset, tmp_path).load_bars(dataset.exchange, dataset.symbol, "1m", start, end)


LIVE_V = "dv-0123456789abcdef"
OTHER_V = "dv-fedcba9876543210"


def test_reads_a_dataset_version_from_the_tree_that_holds_it(own_dataset, tmp_path):
    d = own_dataset
    args = (d.exchange, d.symbol, "1m", FEB27, END)
    live = loader_for(d, tmp_path).load_bars(*args, output="arrow")
    # Unpinned tree: a version is found nowhere; the message says where it looked.
    with pytest.raises(VersionNotFound, match=r"the live tree holds no pinned version"):
        loader_for(d, tmp_path).load_bars(*args, version=LIVE_V)
    # The pin names the live tree's version: that version reads the live tree.
    d.put(f"{d.prefix}/versions/live.json", json.dumps({"version": LIVE_V, "pinnedAtMs": MAR1}).encode())
    assert loader_for(d, tmp_path).load_bars(*args, version=LIVE_V, output="arrow").equals(live)
    with pytest.raises(VersionNotFound, match=rf"version='{OTHER_V}'.*the live tree holds {LIVE_V}"):
        loader_for(d, tmp_path).load_bars(*args, version=OTHER_V)
    # A version with a tree of its own (written by the windower's layout under versions/<id>/).
    r = _node(["test/src/write-loader-fixture.ts", f"{d.prefix}/versions/{OTHER_V}", d.symbol, "write"], ROOT, d.env)
    assert r.returncode == 0, r.stderr
    loader = loader_for(d, tmp_path, "other")
    log = RequestLog(loader.client, d.bucket)
    other = loader.load_bars(*args, version=OTHER_V, output="arrow")
    assert other.num_rows == live.num_rows == 299
    gets = [k for m, k in log.requests if m.startswith("GET") and not k.endswith("live.json")]
    assert gets and all(k.startswith(f"{d.prefix}/versions/{OTHER_V}/aligned") for k in gets), gets


@pytest.mark.parametrize("bad", ["2024-06", 1, "dv-0123", "dv-0123456789ABCDEF", "dv-0123456789abcdef/.."])
def test_refuses_a_version_that_is_no_version_id(dataset, tmp_path, bad):
    with pytest.raises(InvalidRequest, match=r"a dataset version is dv- and 16 lower-case hex digits"):
        loader_for(dataset, tmp_path).load_bars(dataset.exchange, dataset.symbol, "1m", FEB27, END, version=bad)


def test_refuses_an_object_whose_sha256_differs_from_its_manifest(own_dataset, tmp_path, bucket):
    d = own_dataset
    key = next(w["objectKey"] for w in d.info["windows"] if w["startMs"] == MAR1)
    body = bytearray(d.get(key))
    body[len(body) // 2] ^= 0xFF  # same size, other bytes
    d.put(key, bytes(body))
    loader = loader_for(d, tmp_path)
    log = RequestLog(loader.client, bucket)
    with pytest.raises(IntegrityError) as e:
        loader.load_bars(d.exchange, d.symbol, "1m", MAR1, MAR2)
    sha = hashlib.sha256(bytes(body)).hexdigest()
    assert f"{key}: sha256 {sha}, manifest says " in str(e.value)
    assert "(after 3 reads)" in str(e.value)
    assert sum(1 for _, k in log.requests if k == key) == 3, "read again twice before failing"
    assert not list((tmp_path / "cache" / "objects").glob(f"*/{sha}.parquet")), "nothing bad cached"
    # Another day is not affected.
    assert len(loader.load_bars(d.exchange, d.symbol, "1m", MAR2, END)) == 60


def test_a_listed_window_without_its_manifest_is_named(own_dataset, tmp_path):
    d = own_dataset
    mkey = next(w["manifestKey"] for w in d.info["windows"] if w["startMs"] == MAR2)
    d.s3.delete_object(Bucket=d.bucket, Key=mkey)
    with pytest.raises(ManifestMissing, match=rf"{mkey} is listed in the series index but missing"):
        loader_for(d, tmp_path).load_bars(d.exchange, d.symbol, "1m", MAR2, END)


def test_an_index_naming_a_key_the_layout_does_not_compute_is_refused(own_dataset, tmp_path):
    d = own_dataset
    index = json.loads(d.get(d.info["indexKey"]))
    mar1 = next(w for w in index["windows"] if w["startMs"] == MAR1)
    other = next(w for w in index["windows"] if w["startMs"] == MAR2)
    mar1["objectKey"] = other["objectKey"]  # an index pointing at another window's object
    d.put(d.info["indexKey"], json.dumps(index).encode())
    with pytest.raises(DatasetInvalid, match=rf"window {MAR1}: objectKey is .*part-{MAR2}\.parquet', the layout says"):
        loader_for(d, tmp_path).load_bars(d.exchange, d.symbol, "1m", MAR1, MAR2)


def test_rows_of_another_series_are_refused(own_dataset, dataset, tmp_path):
    """An object (with a manifest and index entry that match its bytes) holding another
    symbol's rows: the rows are checked against the series asked for."""
    d = own_dataset
    src_key = next(w["objectKey"] for w in dataset.info["windows"] if w["startMs"] == MAR2)
    dst = next(w for w in d.info["windows"] if w["startMs"] == MAR2)
    body = dataset.get(src_key)
    sha = hashlib.sha256(body).hexdigest()
    d.put(dst["objectKey"], body)
    manifest = json.loads(d.get(dst["manifestKey"]))
    manifest["object"].update(sha256=sha, bytes=len(body))
    d.put(dst["manifestKey"], json.dumps(manifest).encode())
    index = json.loads(d.get(d.info["indexKey"]))
    next(w for w in index["windows"] if w["startMs"] == MAR2)["sha256"] = sha
    d.put(d.info["indexKey"], json.dumps(index).encode())
    with pytest.raises(DatasetInvalid, match=rf"row 0 has symbol '{dataset.symbol}', asked for '{d.symbol}'"):
        loader_for(d, tmp_path).load_bars(d.exchange, d.symbol, "1m", MAR2, END)


def test_a_compacted_object_unlike_its_manifest_is_passed_over_for_the_days(own_dataset, tmp_path, bucket):
    """A readable month object of the right series, rows and size class, one price
    changed: only its size and sha256 tell it from the one its manifest describes."""
    d = own_dataset
    key = d.info["compactedObjectKey"]
    table = pq.read_table(io.BytesIO(d.get(key)))
    close = table["close"].to_pylist()
    close[0] += 1_000
    i = table.schema.get_field_index("close")
    table = table.set_column(i, table.schema.field(i), pa.array(close, pa.float64()))
    buf = io.BytesIO()
    pq.write_table(table, buf)
    d.put(key, buf.getvalue())
    loader = loader_for(d, tmp_path)
    log = RequestLog(loader.client, bucket)
    got = loader.load_bars(d.exchange, d.symbol, "1m", FEB27, MAR1, output="arrow")
    gets = [k for _, k in log.requests]
    assert gets.count(key) == 1
    assert {w["objectKey"] for w in d.info["windows"] if w["startMs"] < MAR1} <= set(gets), "February read from its days"
    assert got.num_rows == 180
    want, _ = pulled_table(d, tmp_path, FEB27, MAR1)
    assert got.to_pylist() == want.to_pylist()


def test_reads_windows_by_several_threads_with_the_same_rows(dataset, tmp_path, bucket):
    """max_workers threads read a series' windows at once (each request held 50 ms here, so
    requests in flight together are seen); the rows are those of one thread, in order."""
    import threading
    import time

    def watched(loader):
        seen = {"now": 0, "most": 0}
        lock = threading.Lock()

        def hold(**_):
            with lock:
                seen["now"] += 1
                seen["most"] = max(seen["most"], seen["now"])
            time.sleep(0.05)
            with lock:
                seen["now"] -= 1

        loader.client.meta.events.register("before-send.s3", hold)
        return seen

    one = Loader(prefix=dataset.prefix, cache_dir=tmp_path / "one", env=dataset.env, max_workers=1)
    many = Loader(prefix=dataset.prefix, cache_dir=tmp_path / "many", env=dataset.env)
    seen_one, seen_many = watched(one), watched(many)
    # February from its compacted object, 2024-03-01 and 03-02 from their day objects.
    a = one.load_bars(dataset.exchange, dataset.symbol, "1m", FEB27, END, output="arrow")
    b = many.load_bars(dataset.exchange, dataset.symbol, "1m", FEB27, END, output="arrow")
    assert seen_one["most"] == 1
    assert seen_many["most"] == 2, "the two March days read at once"
    assert b.num_rows == 299 and b.equals(a)


@pytest.mark.parametrize("bad", [0, 65, 2.5, True, "8"])
def test_refuses_max_workers_outside_1_to_64(dataset, tmp_path, bad):
    with pytest.raises(InvalidConfig, match=r"max_workers must be an integer from 1 to 64, got"):
        Loader(prefix=dataset.prefix, cache_dir=tmp_path / "c", env=dataset.env, max_workers=bad)
