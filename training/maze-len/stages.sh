#!/usr/bin/env bash
# The path-length curriculum of weights/maze (session 6), from the repository root:
#   STAGES="3" MINUTES=30 training/maze-len/stages.sh      # what was run: stage 2 (10 min), then stage 3 (30 min)
# Stage 2 trains a new model from scratch on the mazes whose shortest path is exactly 2 (one cell between S
# and G); stage L then trains on the mazes whose shortest path is at most L, from the previous stage's
# exported weights (fresh optimiser), all on the 9x9 crop, from data/maze_p1_train.csv (sides 5-9, perfect
# mazes; the command is in weights/maze/README.md). Exports go to runs/maze-len/ (not in git); the logs and
# train_config.json of each stage stay in training/maze-len/sNN/. To continue from the shipped weights on
# another machine: PREV=weights/maze STAGES="4 5 6" training/maze-len/stages.sh
set -e
subset() {  # subset OUT LO HI: the rows of data/maze_p1_train.csv whose path length (rating) is in LO..HI
  python - "$1" "$2" "$3" <<'PY'
import csv, sys
out, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = list(csv.reader(open("data/maze_p1_train.csv")))
keep = [rows[0]] + [r for r in rows[1:] if lo <= int(r[3]) <= hi]
csv.writer(open(out, "w", newline="")).writerows(keep)
PY
}
run() {  # run NAME DATA EXTRA...: one stage, its export in runs/maze-len/NAME
  mkdir -p "training/maze-len/$1"
  trmsolve train maze --canvas-crop 9 --data "$2" --out "training/maze-len/$1" --batch-size 64 --lr 5e-4 \
    --warmup 50 --weight-decay 0.1 --export "runs/maze-len/$1" \
    "${@:3}" > "training/maze-len/$1/train_stdout.log" 2>&1
}
prev=${PREV:-}
if [ -z "$prev" ]; then
  subset data/maze_p1_eq2.csv 2 2
  run s02 data/maze_p1_eq2.csv --hidden-size 128 --num-heads 4 --h-cycles 3 --l-cycles 4 --puzzle-emb-ndim 128 \
    --total-steps 2000 --threads 1 --minutes 10
  prev=runs/maze-len/s02
fi
for L in ${STAGES:-3 4 5 6 8 10 13 33}; do
  name=$(printf "s%02d" "$L")
  subset "data/maze_p1_le$L.csv" 0 "$L"
  run "$name" "data/maze_p1_le$L.csv" --init "$prev" --total-steps 3000 --threads "${THREADS:-2}" --minutes "${MINUTES:-30}"
  prev="runs/maze-len/$name"
done
