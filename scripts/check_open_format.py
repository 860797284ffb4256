"""Read a superfile written by `write_sample` with pyarrow and DuckDB.

Usage: python3 check_open_format.py FILE.parquet
Exits non-zero with a message when a reader disagrees with what was written.
"""
import sys

import duckdb
import pyarrow.parquet as pq

path = sys.argv[1]
expected_ids = [i * 3 for i in range(1000)]
expected_bodies = [None if i % 7 == 0 else f"body of row {i} with word w{i % 10}" for i in range(1000)]

table = pq.read_table(path)
assert table.column_names == ["_id", "id", "title", "body"], table.column_names
assert table.num_rows == 1000, table.num_rows
assert table.column("_id").to_pylist() == list(range(100, 1100)), "pyarrow: _id"
assert table.column("id").to_pylist() == expected_ids, "pyarrow: id"
assert table.column("body").to_pylist() == expected_bodies, "pyarrow: body"
meta = pq.ParquetFile(path).metadata
assert meta.num_row_groups == 4, meta.num_row_groups
assert b"infino.directory" in meta.metadata, "directory key present"

con = duckdb.connect()
row = con.execute(
    f"select count(*), min(id), max(id), count(body), sum(_id) from read_parquet('{path}')"
).fetchone()
assert row == (1000, 0, 2997, sum(b is not None for b in expected_bodies), sum(range(100, 1100))), row
hits = con.execute(f"select count(*) from read_parquet('{path}') where body like '%word w3'").fetchone()[0]
assert hits == sum(1 for b in expected_bodies if b and b.endswith("word w3")), hits
print("pyarrow and DuckDB read the superfile: ok")
