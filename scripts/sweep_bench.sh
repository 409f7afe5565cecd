#!/usr/bin/env bash
# Sweep throughput (issue 10): the same 4 ring8 runs with --jobs 1, --jobs 2 and Ray (--jobs 2),
# then the 4 regularizers x 4 lambdas x 3 seeds sweep (39 runs: reg=none has no lambda) with
# --jobs 2 and with --jobs 1 (~25 minutes in all on 2 cores). Wall times go to OUT/ratio.txt;
# every sweep's tables to OUT/<name>/. Needs requirements-ray.txt for the Ray row.
# Usage: bash scripts/sweep_bench.sh [OUT]   (default runs/sweep_bench; run on a quiet machine)
set -u
cd "$(dirname "$0")/.."
OUT=${1:-runs/sweep_bench}
mkdir -p "$OUT"
for b in "local 1" "local 2" "ray 2"; do
  set -- $b
  d=$OUT/r_$1_$2
  rm -rf "$d"
  t0=$(date +%s.%N)
  python -m gan_lab sweep --dataset ring8 --grid reg=l1,l2 --grid lam=1e-3,1e-2 --seeds 0 \
      --jobs "$2" --backend "$1" --quiet --out "$d" > "$d.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  echo "$1 jobs=$2 wall_s=$(python -c "print(round($t1-$t0,1))") rc=$rc" | tee -a "$OUT/ratio.txt"
done
for j in 2 1; do
  d=$OUT/big_jobs$j
  rm -rf "$d"
  t0=$(date +%s.%N)
  python -m gan_lab sweep --dataset ring8 --grid reg=none,l1,l2,hsn1r \
      --grid lam=1e-4,1e-3,1e-2,1e-1 --seeds 0,1,2 --jobs $j --quiet --out "$d" > "$d.log" 2>&1
  t1=$(date +%s.%N)
  echo "big jobs=$j wall_s=$(python -c "print(round($t1-$t0,1))")" | tee -a "$OUT/ratio.txt"
done
