#!/usr/bin/env bash
# Ingest speed at 1M records, medians of 3: today's ingest, shape (a) ingest + Delta commit, shape (b) the write
# side through delta-rs vs ours. Every run under nice -n 19 (a shared machine); phase lines carry CPU seconds.
#   measure.sh BINARY LOGS SCRATCH [RUNS]
set -euo pipefail
BIN=$1 LOGS=$2 S=$3 RUNS=${4:-3}
mkdir -p "$S"
for i in $(seq 1 "$RUNS"); do
  rm -rf "$S/a-$i"
  nice -n 19 /usr/bin/time -f '{"process":"ingest+commit","wall_s":%e,"cpu_s":%U+%S,"max_rss_kb":%M}' \
    "$BIN" ingest --warehouse "$S/a-$i" --threads 2 "$LOGS" > "$S/a-$i.jsonl" 2> "$S/a-$i.time"
  cat "$S/a-$i.jsonl" "$S/a-$i.time"
done
for i in $(seq 1 "$RUNS"); do
  for who in delta ours; do
    rm -rf "$S/b-$who-$i"
    flag=(); [ "$who" = ours ] && flag=(--ours)
    nice -n 19 "$BIN" write --from "$S/a-1" --to "$S/b-$who-$i" "${flag[@]}" | tee "$S/b-$who-$i.jsonl"
  done
done
