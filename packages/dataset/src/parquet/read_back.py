"""Reads an aligned-bar Parquet file with pyarrow and prints what the test asserts on, as JSON.

Usage: python read_back.py <file.parquet>
"""
import json
import sys

import pyarrow.compute as pc
import pyarrow.parquet as pq

path = sys.argv[1]
pf = pq.ParquetFile(path)
table = pf.read()
meta = pf.metadata
kv = {k.decode(): v.decode() for k, v in (meta.metadata or {}).items() if not k.startswith(b"ARROW:")}
ts = table.column("ts")
out = {
    "pyarrow": __import__("pyarrow").__version__,
    "rows": table.num_rows,
    "row_groups": meta.num_row_groups,
    "created_by": meta.created_by,
    "metadata": kv,
    "types": {f.name: str(f.type) for f in table.schema},
    "nullable": {f.name: f.nullable for f in table.schema},
    "ts_tz": ts.type.tz,
    "ts_unit": ts.type.unit,
    "parquet_logical": {
        meta.schema.column(i).name: str(meta.schema.column(i).logical_type) for i in range(meta.num_columns)
    },
    "compression": sorted({meta.row_group(0).column(i).compression for i in range(meta.num_columns)})
    if meta.num_row_groups
    else [],
    "ts_sorted": table.num_rows < 2 or bool(pc.all(pc.greater_equal(ts[1:], ts[:-1])).as_py()),
    "first_ts_iso": ts[0].as_py().isoformat() if table.num_rows else None,
    "encodings": {
        meta.row_group(0).column(i).path_in_schema: sorted(meta.row_group(0).column(i).encodings)
        for i in range(meta.num_columns)
    }
    if meta.num_row_groups
    else {},
    "sum_ts_ms": pc.sum(pc.cast(ts, "int64")).as_py(),
    "sum_known_at_ms": pc.sum(pc.cast(table.column("known_at"), "int64")).as_py(),
    "sum_open_interest_ts_ms": pc.sum(pc.cast(table.column("open_interest_ts"), "int64")).as_py(),
    "null_open_interest_ts": table.column("open_interest_ts").null_count,
    "null_open_interest": table.column("open_interest").null_count,
    "sum_close": pc.sum(table.column("close")).as_py(),
    "sum_open_interest": pc.sum(table.column("open_interest")).as_py(),
    "sum_liq_count": pc.sum(table.column("liq_count")).as_py(),
    "filled": pc.sum(pc.cast(table.column("candle_filled"), "int64")).as_py(),
    "symbols": sorted(set(table.column("symbol").to_pylist())),
}
print(json.dumps(out))
