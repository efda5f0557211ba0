#!/usr/bin/env python3
"""Which engines read the Delta table here: python deltalake, DuckDB's delta extension, Spark.

    readers.py TABLE [--spark-python PYTHON]

TABLE is WAREHOUSE/invocations after `delta-proto sync` (or `convert`). Each reader counts rows and distinct
request ids, or records the error it raised. DuckDB's extension comes from the PyPI package `duckdb-ext-delta`
(a repackaging of the official extension for DuckDB 1.4.4), loaded from its file. Spark runs in a child process
with PYTHON (a venv holding pyspark), first as it is, then with the delta-spark jars asked for by Maven
coordinates (what `delta-spark`'s `configure_spark_with_delta_pip` does).
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

SPARK = r"""
import json, sys
from pyspark.sql import SparkSession
table, packages = sys.argv[1], sys.argv[2]
b = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
     .config("spark.sql.shuffle.partitions", "2"))
if packages:
    b = (b.config("spark.jars.packages", packages)
         .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
         .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"))
try:
    spark = b.getOrCreate()
    df = spark.read.format("delta").load(table)
    r = df.selectExpr("count(*) n", "count(distinct request_id) d").collect()[0]
    print(json.dumps({"rows": r.n, "distinct": r.d}))
except Exception as e:
    print(json.dumps({"error": f"{type(e).__name__}: {str(e)[:400]}"}))
"""


def python_deltalake(table):
    try:
        import pyarrow.compute as pc
        from deltalake import DeltaTable
        import deltalake
        t = DeltaTable(table)
        ids = t.to_pyarrow_dataset().to_table(columns=["request_id"]).column("request_id")
        return {"version": deltalake.__version__, "table_version": t.version(), "rows": len(ids),
                "distinct": pc.count_distinct(ids).as_py()}
    except Exception as e:  # noqa: BLE001
        return {"error": f"{type(e).__name__}: {str(e)[:400]}"}


def duckdb_delta(table):
    try:
        import duckdb
        import duckdb_ext
        ext = next(Path(duckdb_ext.__path__[0]).rglob("delta.duckdb_extension"))
        con = duckdb.connect()
        con.execute(f"LOAD '{ext}'")
        n, d = con.execute(f"SELECT count(*), count(DISTINCT request_id) FROM delta_scan('{table}')").fetchone()
        return {"duckdb": duckdb.__version__, "extension": str(ext), "rows": n, "distinct": d}
    except Exception as e:  # noqa: BLE001
        return {"error": f"{type(e).__name__}: {str(e)[:400]}"}


def spark(python, table, packages):
    try:
        out = subprocess.run([python, "-c", SPARK, table, packages], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 300 s"}
    line = next((l for l in out.stdout.splitlines() if l.startswith("{")), None)
    return json.loads(line) if line else {"error": out.stderr.strip()[-400:]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("table")
    ap.add_argument("--spark-python")
    args = ap.parse_args()
    table = str(Path(args.table).resolve())
    result = {"python deltalake": python_deltalake(table), "duckdb delta extension": duckdb_delta(table)}
    if args.spark_python:
        result["spark, no jars"] = spark(args.spark_python, table, "")
        result["spark, delta-spark by Maven coordinates"] = spark(args.spark_python, table,
                                                                   "io.delta:delta-spark_2.13:4.0.0")
    print(json.dumps(result, indent=1))
    sys.exit(0)


if __name__ == "__main__":
    main()
