#!/usr/bin/env bash
# The bundled maze model (weights/maze), from nothing: its data sets, then its six training stages, each from the
# best held-out evaluation of the one before (train keeps it in RUN/best). From the repository root, one core a
# stage (about 3.4 hours of training on an AMD EPYC (Zen 4) in bfloat16; float32 on a CPU without native bf16
# takes longer). STAGES="n41 n43" runs some stages only; each stage's run folder resumes if it is there.
#
# The data files' checksums (sha256, first 16 hex digits) are checked after they are made; the stages were run
# with these commands (their logs, and the runs that were not kept, are in git history: see CHANGELOG.md).
set -euo pipefail
mkdir -p data runs/maze

gen() {  # gen OUT ARGS...: trmsolve generate maze, unless OUT is already there
  [ -f "data/$1.csv" ] || trmsolve generate maze "${@:2}" -o "data/$1.csv"
}
mix() {  # mix OUT FIRST PART...: FIRST's rows, then each PART: NAME (all its rows) or NAME:K (random.Random(0)
  # sample of K of its rows), header once; written by csv.writer with "\n" line ends
  python - "$@" <<'PY'
import csv, random, sys
out, first, *parts = sys.argv[1:]
rows = list(csv.reader(open(f"data/{first}.csv")))
for part in parts:
    name, _, k = part.partition(":")
    body = list(csv.reader(open(f"data/{name}.csv")))[1:]
    rows += random.Random(0).sample(body, int(k)) if k else body
csv.writer(open(f"data/{out}.csv", "w", newline=""), lineterminator="\n").writerows(rows)
PY
}
check() {  # check NAME SHA16...: the file's sha256 starts as recorded
  while [ $# -gt 1 ]; do
    actual=$(sha256sum "data/$1.csv" | cut -c1-16)
    [ "$actual" = "$2" ] || { echo "data/$1.csv: sha256 $actual, recorded $2" >&2; exit 1; }
    shift 2
  done
}

# --- data: 5-9 a side (stage 1), long paths 9-13 (2), obstacle fields 9-17 (3), long paths 15-17 (4),
# 19-21 with paths of 70+ (5), 23-25 with paths of 60+ (6), each with replay of the sizes before
every=dfs,prim,kruskal,wilson,rooms,organic
gen maze_c1_perfect 24000 --seed 1501 --small-share 1 --small-sides 5-9 --algorithms $every
gen maze_c1_obstacles 8000 --seed 1502 --small-share 1 --small-sides 5-9 --algorithms obstacles --min-path 4
gen maze_c1_test_obstacles 200 --seed 1522 --small-share 1 --small-sides 5-9 --algorithms obstacles --min-path 4
gen maze_l1_perfect 24000 --seed 1701 --small-share 1 --small-sides 9-13 --min-path 20 --algorithms $every
gen maze_l1_obstacles 8000 --seed 1702 --small-share 1 --small-sides 11-13 --min-path 14 --algorithms obstacles
gen maze_l1_test_perfect 200 --seed 1721 --small-share 1 --small-sides 9-13 --min-path 16 --algorithms dfs,prim,kruskal,wilson
gen maze_l2_perfect 24000 --seed 1801 --small-share 1 --small-sides 13-17 --min-path 24 --algorithms $every
gen maze_l2_obstacles 8000 --seed 1802 --small-share 1 --small-sides 13-17 --min-path 18 --algorithms obstacles
gen maze_o1_obstacles 16000 --seed 1901 --small-share 1 --small-sides 9-17 --algorithms obstacles --min-path 14
gen maze_o1_select 100 --seed 1911 --small-share 1 --small-sides 9-17 --algorithms obstacles --min-path 10
gen maze_w1_obstacles 20000 --seed 2101 --small-share 1 --small-sides 13-17 --algorithms obstacles --min-path 10
gen maze_l4_perfect 30000 --seed 2401 --small-share 1 --small-sides 15-17 --min-path 36 --algorithms $every
gen maze_l4_select 100 --seed 2411 --small-share 1 --small-sides 17-17 --min-path 40 --algorithms dfs,prim,kruskal,wilson
gen maze_l5_perfect 30000 --seed 2501 --small-share 1 --small-sides 17-17 --min-path 60 --algorithms dfs,kruskal,wilson
gen maze_l6_perfect 20000 --seed 2601 --small-share 1 --small-sides 19-21 --min-path 70 --algorithms dfs,kruskal,wilson
gen maze_l6_select 100 --seed 2611 --small-share 1 --small-sides 21-21 --min-path 70 --algorithms dfs,kruskal,wilson
gen maze_l7_all 30000 --seed 2701 --small-share 1 --small-sides 23-25 --min-path 60
gen maze_l7_select 300 --seed 2711 --small-share 1 --small-sides 25-25 --min-path 70 --algorithms dfs,prim,kruskal,wilson,organic
mix maze_c1_train maze_c1_perfect maze_c1_obstacles
mix maze_l1_train maze_l1_perfect maze_l1_obstacles maze_c1_train:8000
mix maze_o1_train maze_o1_obstacles maze_l1_obstacles maze_l2_obstacles maze_l1_perfect:8000 maze_l2_perfect:8000 \
  maze_c1_train:4000
mix maze_l4_train maze_l4_perfect maze_l2_perfect:6000 maze_w1_obstacles:6000 maze_c1_train:2000
mix maze_m4_train maze_l6_perfect maze_l5_perfect:16000 maze_o1_obstacles:8000 maze_w1_obstacles:4000 maze_c1_train:2000
mix maze_m5_train maze_l7_all maze_l6_perfect:10000 maze_l5_perfect:6000 maze_o1_obstacles:6000 \
  maze_w1_obstacles:3000 maze_c1_train:2000
{ head -n 51 data/maze_l6_select.csv; sed -n 2,51p data/maze_o1_select.csv; } > data/maze_m3_select.csv
head -n 151 data/maze_l7_select.csv > data/maze_l7_select150.csv
check maze_c1_train cfc76d9c8664672d maze_c1_test_obstacles c0b22b292d81a4d5 maze_l1_perfect ae28559d1db81a9a \
  maze_l1_obstacles 2766286c01990fc5 maze_l1_train 7799a5a4c3528a3e maze_l1_test_perfect ac263d05985bbe4e \
  maze_l2_perfect 9826fcf55805b206 maze_l2_obstacles 5b8888ef04179be2 maze_o1_obstacles 4fe5ee445c91c07b \
  maze_o1_train c1a0fdccf4c30a58 maze_o1_select 08aa3e17fe272007 maze_w1_obstacles ecc38cd4d024a9d2 \
  maze_l4_perfect db587b62ead9c2e3 maze_l4_train 67fec30c944ce062 maze_l4_select ff528ecc6f0785cc \
  maze_l5_perfect 4606e45dcebe506d maze_l6_perfect 2a33332d556b597d maze_m4_train f01ff3a214ed3303 \
  maze_l6_select b4e737b04bb35be1 maze_m3_select faee5d81a412eee6 maze_l7_all e14e88f3416cb1bf \
  maze_m5_train ea10c0151321e77d maze_l7_select 819035f6eaa6a25e

# --- training: every stage on one thread, batch 64, weight decay 0.1, the prefix embedding at sign-SGD 1e-2
stage() {  # stage NAME ARGS...: a run in runs/maze/NAME (resumed if there), its best evaluation in NAME/best
  if [[ " ${STAGES:-n33 n36 n38 n39 n41 n43} " == *" $1 "* ]]; then
    trmsolve train maze --out "runs/maze/$1" --batch-size 64 --weight-decay 0.1 --puzzle-emb-lr 1e-2 --threads 1 \
      "${@:2}"
  fi
}
# 1. From scratch, every style of 5-9 a side on the 9x9 square: neighbour attention, the prefix scored without
#    positions, 3 H cycles x 4 L cycles, hidden 128. Its last evaluation (45 minutes).
stage n33 --data data/maze_c1_train.csv --eval-data data/maze_c1_test_obstacles.csv --eval-size 100 \
  --eval-minutes 15 --canvas-crop 9 --neighbour-attention --position-free-prefix --hidden-size 128 --num-heads 4 \
  --h-cycles 3 --l-cycles 4 --puzzle-emb-ndim 128 --lr 5e-4 --warmup 50 --total-steps 4000 --minutes 45 \
  --export runs/maze/n33_model
# 2. Long paths 9-13 a side on the 13x13 square; best evaluation at step 435 (29 minutes).
stage n36 --init runs/maze/n33_model --canvas-crop 13 --compile --data data/maze_l1_train.csv \
  --eval-data data/maze_l1_test_perfect.csv --eval-size 100 --eval-minutes 8 --lr 1e-4 --warmup 50 \
  --total-steps 2000 --minutes 30
# 3. One H cycle a step, obstacle fields 9-17 on the 17x17 square; best evaluation at step 168 (8 minutes).
stage n38 --init runs/maze/n36/best --canvas-crop 17 --h-cycles 1 --compile --data data/maze_o1_train.csv \
  --eval-data data/maze_o1_select.csv --eval-size 100 --eval-minutes 8 --lr 1e-4 --warmup 50 --total-steps 2000 \
  --minutes 8.5
# 4. Long paths 15-17 a side (36+); best evaluation at step 840 (40 minutes).
stage n39 --init runs/maze/n38/best --compile --data data/maze_l4_train.csv --eval-data data/maze_l4_select.csv \
  --eval-size 100 --eval-minutes 8 --lr 5e-5 --warmup 50 --total-steps 3000 --minutes 40
# 5. 19-21 a side with paths of 70+ on the 21x21 square, 32 ACT steps; best evaluation at step 437 (34 minutes).
stage n41 --init runs/maze/n39/best --canvas-crop 21 --act-steps 32 --compile --data data/maze_m4_train.csv \
  --eval-data data/maze_m3_select.csv --eval-size 100 --eval-minutes 10 --lr 3e-5 --warmup 20 --total-steps 1000 \
  --minutes 34
# 6. 23-25 a side with paths of 60+ on the 25x25 square; best evaluation at step 220 (45 minutes; stopped at 73).
stage n43 --init runs/maze/n41/best --canvas-crop 25 --act-steps 32 --compile --data data/maze_m5_train.csv \
  --eval-data data/maze_l7_select150.csv --eval-size 100 --eval-minutes 12 --lr 3e-5 --warmup 20 \
  --total-steps 1500 --minutes 73
# The shipped model is runs/maze/n43/best with its solving settings in config.json: canvas_crop 9 (solve on the
# smallest square that holds the maze), view_steps 128, views 48 and restart_noise 1.0 (weights/maze/README.md).
