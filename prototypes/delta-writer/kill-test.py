#!/usr/bin/env python3
"""Kill -9 shape (a) (our ingest + Delta commit) at random moments, run it again, and check exactly-once.

    kill-test.py BINARY LOGS SCRATCH [--trials 10] [--expect 1000000] [--commit-every-rows 100000] [--seed 20]

Each trial: a fresh warehouse (or one prefilled by --prefill runs); `BINARY ingest` killed with SIGKILL after a random delay drawn from the time a
whole run takes; then the Delta table as a reader finds it right after the kill (python `deltalake`, if it is
importable: readable or not, how many rows, any duplicate); then the run again to completion; then `BINARY check`
(Delta table vs our manifests: every record once, same rows, right `day`) and a second, independent reader
(python `deltalake`) counting rows and distinct request ids. Prints one JSON line per trial and a summary.
"""
import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path


def delta_reader(table):
    """Rows and distinct request ids of the Delta table through python deltalake, or the error it raised."""
    try:
        import pyarrow.compute as pc
        from deltalake import DeltaTable
    except ImportError as e:
        return {"reader": "unavailable", "error": str(e)}
    try:
        t = DeltaTable(str(table))
        ids = t.to_pyarrow_dataset().to_table(columns=["request_id"]).column("request_id")
        return {"version": t.version(), "rows": len(ids), "distinct": pc.count_distinct(ids).as_py()}
    except Exception as e:  # noqa: BLE001 - the point is to record what a reader sees
        return {"error": f"{type(e).__name__}: {str(e)[:300]}"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("logs")
    ap.add_argument("scratch")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--expect", type=int, default=1_000_000)
    ap.add_argument("--commit-every-rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--prefill", nargs="+", help="runs before each trial's killed run, one per value (comma-separated "
                    "sources), each ingested and committed to Delta: the kill then hits a warehouse that already has a "
                    "Delta table, and with 8 runs adding a file to each day, a run that compacts every day at its end")
    ap.add_argument("--prefill-commit-every-rows", type=int, default=1000)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    scratch = Path(args.scratch)

    def ingest(wh):
        return [args.binary, "ingest", "--warehouse", str(wh), "--commit-every-rows", str(args.commit_every_rows),
                args.logs]

    def fresh(wh):
        shutil.rmtree(wh, ignore_errors=True)
        for sources in args.prefill or []:
            subprocess.run([args.binary, "ingest", "--warehouse", str(wh), "--commit-every-rows",
                            str(args.prefill_commit_every_rows), *sources.split(",")], check=True,
                           stdout=subprocess.DEVNULL)

    # One whole run first: how long the kill window is, and the reference for the counts.
    wh = scratch / "reference"
    fresh(wh)
    t0 = time.monotonic()
    subprocess.run(ingest(wh), check=True, stdout=subprocess.DEVNULL)
    full = time.monotonic() - t0
    print(json.dumps({"reference_run_s": full}), flush=True)

    failures = 0
    for trial in range(args.trials):
        wh = scratch / f"trial-{trial}"
        fresh(wh)
        delay = rng.uniform(0.05, full)
        proc = subprocess.Popen(ingest(wh), stdout=subprocess.PIPE, text=True)
        try:
            out, _ = proc.communicate(timeout=delay)
            killed = False
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            killed = True
        phases_done = [json.loads(line)["phase"] for line in out.splitlines() if line.startswith("{")]
        after_kill = delta_reader(wh / "invocations") if (wh / "invocations" / "_delta_log").exists() else "no table"
        rerun = subprocess.run(ingest(wh), capture_output=True, text=True)
        check = subprocess.run([args.binary, "check", "--warehouse", str(wh), "--expect", str(args.expect)],
                               capture_output=True, text=True)
        check_info = next((json.loads(l)["info"] for l in check.stdout.splitlines() if l.startswith("{")),
                          {"error": check.stderr.strip()[-300:]})
        reader = delta_reader(wh / "invocations")
        ok = (rerun.returncode == 0 and check.returncode == 0 and reader.get("rows") == args.expect
              and reader.get("distinct") == args.expect)
        failures += not ok
        print(json.dumps({"trial": trial, "delay_s": round(delay, 2), "killed": killed,
                          "phases_finished_before_kill": phases_done, "delta_right_after_kill": after_kill,
                          "rerun_exit": rerun.returncode, "rerun_stderr": rerun.stderr.strip()[-300:],
                          "check": check_info, "python_deltalake": reader, "ok": ok}), flush=True)
        shutil.rmtree(wh, ignore_errors=True)
    print(json.dumps({"trials": args.trials, "failures": failures}))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
