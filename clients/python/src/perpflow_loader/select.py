"""Row selection of one window, as selectRows of packages/dataset/src/pull/select.ts:
rows with bar open time in [from_ms, to_ms); with as_of, per bar time the highest
revision whose known_at ≤ as_of among the latest and superseded rows (a bar with none
was not known yet and is left out)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _ms(col: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(col, pa.int64())


def select_rows(latest: pa.Table, superseded: pa.Table | None, from_ms: int, to_ms: int, as_of_ms: int | None) -> pa.Table:
    def in_range(t: pa.Table) -> pa.Table:
        ts = _ms(t["ts"])
        return t.filter(pc.and_(pc.greater_equal(ts, from_ms), pc.less(ts, to_ms)))

    if as_of_ms is None:
        return in_range(latest).sort_by([("ts", "ascending")])
    parts = [latest] if superseded is None or superseded.num_rows == 0 else [latest, superseded.cast(latest.schema)]
    rows = in_range(pa.concat_tables(parts))
    rows = rows.filter(pc.less_equal(_ms(rows["known_at"]), as_of_ms))
    if rows.num_rows == 0:
        return rows
    # Stable sort: among equal (ts, revision) the latest tree's row, listed first, wins (as in select.ts).
    rows = rows.sort_by([("ts", "ascending"), ("revision", "descending")])
    ts = _ms(rows["ts"]).to_numpy()
    keep = np.ones(len(ts), dtype=bool)
    keep[1:] = ts[1:] != ts[:-1]
    return rows.filter(pa.array(keep))
