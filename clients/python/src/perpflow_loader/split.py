"""Walk-forward splits by event time that cannot leak: between a fold's training rows
and its test rows lies a gap of at least the data's known_at lag, so every training
row was known (known_at) before the first test bar opened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InvalidRequest, LoaderError
from .timeparse import to_ms


@dataclass(frozen=True)
class Split:
    """One fold: train rows have ts in [train_start_ms, train_end_ms), test rows in
    [test_start_ms, test_end_ms); test_start_ms - train_end_ms ≥ the known_at lag."""

    train_start_ms: int
    train_end_ms: int
    test_start_ms: int
    test_end_ms: int
    train: Any
    test: Any


def _ms_column(bars: Any, name: str) -> np.ndarray:
    if isinstance(bars, pa.Table):
        if name not in bars.column_names:
            raise InvalidRequest(f"bars has no column {name!r} (load it with load_bars)")
        col = bars[name]
        if pa.types.is_timestamp(col.type):
            col = pc.cast(pc.cast(col, pa.timestamp("ms", tz="UTC")), pa.int64())
        return np.asarray(col.to_numpy(), dtype=np.int64)
    if not hasattr(bars, "columns") or name not in bars.columns:
        raise InvalidRequest(f"bars has no column {name!r} (load it with load_bars)")
    col = bars[name]
    if getattr(getattr(col, "dt", None), "tz", None) is not None:
        col = col.dt.tz_convert("UTC").dt.tz_localize(None)  # tz-aware: to naive UTC, then numpy
    values = col.to_numpy()
    if values.dtype.kind == "M":
        return values.astype("datetime64[ms]").astype(np.int64)
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    raise InvalidRequest(f"bars column {name!r} must hold timestamps or int ms, got {values.dtype}")


def _take(bars: Any, mask: np.ndarray) -> Any:
    if isinstance(bars, pa.Table):
        return bars.filter(pa.array(mask))
    return bars[mask]


def known_at_lag_ms(bars: Any) -> int:
    """The data's known_at lag: the longest time, over all rows, from a bar's open (ts)
    to when it became known (known_at)."""
    ts, known = _ms_column(bars, "ts"), _ms_column(bars, "known_at")
    if len(ts) == 0:
        raise InvalidRequest("bars is empty: no known_at lag to measure")
    return int(max(0, (known - ts).max()))


def _positive(value: Any, name: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (value == 0 and not allow_zero):
        raise InvalidRequest(f"{name} must be an integer number of ms {'≥' if allow_zero else '>'} 0, got {value!r}")
    return value


def walk_forward_splits(
    bars: Any,
    *,
    train_ms: int,
    test_ms: int,
    step_ms: int | None = None,
    gap_ms: int | None = None,
    expanding: bool = False,
    start: Any = None,
    end: Any = None,
) -> list[Split]:
    """Folds over ``bars`` (a DataFrame or Table from load_bars), in time order.

    Fold k trains on [s + k·step, s + k·step + train_ms) (``expanding``: from s) and
    tests on [train_end + gap, train_end + gap + test_ms), while the test window ends
    by ``end`` (default: after the last bar). ``step_ms`` defaults to ``test_ms``;
    ``gap_ms`` defaults to the data's known_at lag and may not be smaller than it.
    """
    train_ms = _positive(train_ms, "train_ms")
    test_ms = _positive(test_ms, "test_ms")
    step_ms = test_ms if step_ms is None else _positive(step_ms, "step_ms")
    ts, known = _ms_column(bars, "ts"), _ms_column(bars, "known_at")
    lag = known_at_lag_ms(bars)
    if gap_ms is None:
        gap_ms = lag
    gap_ms = _positive(gap_ms, "gap_ms", allow_zero=True)
    if gap_ms < lag:
        raise InvalidRequest(
            f"gap_ms {gap_ms} is shorter than the data's known_at lag ({lag} ms): training rows "
            "would become known after the test window opens; use gap_ms ≥ the lag"
        )
    first = int(ts.min()) if start is None else to_ms(start, "start")
    stop = int(ts.max()) + 1 if end is None else to_ms(end, "end")
    if first >= stop:
        raise InvalidRequest(f"empty range: start ({first}) must be before end ({stop})")
    folds: list[Split] = []
    k = 0
    while True:
        train_end = first + k * step_ms + train_ms
        train_start = first if expanding else train_end - train_ms
        test_start = train_end + gap_ms
        test_end = test_start + test_ms
        if test_end > stop:
            break
        train_mask = (ts >= train_start) & (ts < train_end)
        test_mask = (ts >= test_start) & (ts < test_end)
        # Holds by construction (known_at ≤ ts + lag < train_end + gap); checked, not assumed.
        if train_mask.any() and int(known[train_mask].max()) >= test_start:
            raise LoaderError(f"fold {k}: a training row became known at or after the test start {test_start}")
        folds.append(Split(train_start, train_end, test_start, test_end, _take(bars, train_mask), _take(bars, test_mask)))
        k += 1
    if not folds:
        raise InvalidRequest(
            f"no fold fits: train_ms {train_ms} + gap_ms {gap_ms} + test_ms {test_ms} is longer than "
            f"the data's span [{first}, {stop})"
        )
    return folds
