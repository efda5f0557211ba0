#!/usr/bin/env python3
"""Release-built write side, Delta vs plain Parquet: the same rows through PyPI's `deltalake` (delta-rs compiled
in release) and through pyarrow's Parquet writer (Arrow C++), both partitioned by `day`, zstd level 1.

    py-write-bench.py WAREHOUSE SCRATCH [--runs 3]

A stand-in for a release build of the prototype (30+ CPU-minutes on this machine): the prototype's `write`
subcommand compares the two writers in a debug build, where delta-rs' DataFusion plan runs unoptimised and ours
does not (the Parquet crates are optimised even in dev), which flatters ours. CPU is user + sys of this process
(all threads) around the write call alone; the rows are loaded first.
"""
import argparse
import json
import resource
import shutil
import statistics
import time
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
from deltalake import WriterProperties, write_deltalake


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("warehouse")
    ap.add_argument("scratch")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    table = ds.dataset(Path(args.warehouse) / "invocations", format="parquet", partitioning="hive").to_table()
    table = table.cast(table.schema.set(table.schema.get_field_index("day"),
                                        table.schema.field("day").with_type(__import__("pyarrow").date32())))
    print(json.dumps({"rows": table.num_rows}), flush=True)
    scratch = Path(args.scratch)
    results = {"delta-rs (python deltalake)": [], "pyarrow parquet": []}
    for run in range(args.runs):
        for name in results:
            out = scratch / f"py-{name.split()[0]}-{run}"
            shutil.rmtree(out, ignore_errors=True)
            w0, c0 = time.monotonic(), cpu()
            if name.startswith("delta"):
                write_deltalake(str(out), table, partition_by=["day"], mode="append",
                                writer_properties=WriterProperties(compression="ZSTD", compression_level=1))
            else:
                pq.write_to_dataset(table, str(out), partition_cols=["day"], compression="zstd",
                                    compression_level=1)
            wall, c = time.monotonic() - w0, cpu() - c0
            size = sum(f.stat().st_size for f in out.rglob("*.parquet"))
            results[name].append((wall, c))
            print(json.dumps({"writer": name, "run": run, "wall_s": round(wall, 3), "cpu_s": round(c, 3),
                              "parquet_bytes": size}), flush=True)
            shutil.rmtree(out, ignore_errors=True)
    summary = {k: {"wall_median_s": statistics.median(w for w, _ in v), "cpu_median_s": statistics.median(c for _, c in v)}
               for k, v in results.items()}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
