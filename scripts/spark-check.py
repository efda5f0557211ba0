#!/usr/bin/env python3
"""Run `bedrock-spend ddl --engine spark` output on a real Spark (local mode), then named queries, and print their
rows as JSON for the Rust test that compares them with DataFusion (tests/it/engines.rs).

Usage: spark-check.py DDL_FILE QUERIES_JSON [LATER_QUERIES_JSON]
  DDL_FILE            the script `ddl --engine spark` printed (statements end with `;` at the end of a line)
  QUERIES_JSON        a JSON object {name: SQL}
  LATER_QUERIES_JSON  a JSON list of such objects: phases run in the same session, each after a line on stdin (the
                      caller changes the warehouse in between; every table is refreshed first, as a long-lived
                      session must after files change under it)
Prints one line per phase, {"rows": {name: [{column: value}]}, "seconds": {...}}; decimals and dates as text
(exact), NULL as null.

Spark runs in local mode with two threads, a small driver, no UI and only the loopback interface: nothing leaves
the machine. Its catalog is in memory and its warehouse directory is a temporary folder.
"""
import datetime
import decimal
import json
import os
import re
import sys
import tempfile
import time


def main():
    ddl_path, queries_path = sys.argv[1], sys.argv[2]
    with open(ddl_path) as f:
        ddl = f.read()
    with open(queries_path) as f:
        queries = json.load(f)
    later = []
    if len(sys.argv) > 3:
        with open(sys.argv[3]) as f:
            later = json.load(f)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    started = time.monotonic()
    from pyspark.sql import SparkSession

    scratch = tempfile.mkdtemp(prefix="spark-check-")
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bedrock-spend-spark-check")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "768m")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
        # A short-lived JVM: the C1 compiler alone and the serial collector start faster than the defaults.
        .config(
            "spark.driver.extraJavaOptions",
            f"-Dderby.system.home={scratch} -XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
        )
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    seconds = {"start": time.monotonic() - started}

    t = time.monotonic()
    statements = [s.strip() for s in re.split(r";[ \t]*\n", ddl) if s.strip()]
    for statement in statements:
        body = "\n".join(l for l in statement.splitlines() if not l.startswith("--")).strip()
        if body:
            spark.sql(body)
    seconds["ddl"] = time.monotonic() - t

    t = time.monotonic()
    rows = run(spark, queries)
    seconds["queries"] = time.monotonic() - t
    print(json.dumps({"rows": rows, "seconds": seconds}), flush=True)
    for phase in later:
        sys.stdin.readline()
        t = time.monotonic()
        for database in spark.catalog.listDatabases():
            for table in spark.catalog.listTables(database.name):
                if table.tableType != "VIEW":
                    spark.sql(f"REFRESH TABLE `{database.name}`.`{table.name}`")
        rows = run(spark, phase)
        print(json.dumps({"rows": rows, "seconds": {"queries": time.monotonic() - t}}), flush=True)
    spark.stop()


def run(spark, queries):
    return {
        name: [{k: plain(v) for k, v in r.asDict().items()} for r in spark.sql(sql).collect()]
        for name, sql in queries.items()
    }


def plain(value):
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


if __name__ == "__main__":
    main()
