#!/usr/bin/env bash
# The path-length curriculum of session 7's weights/maze, from the repository root. What was run for it:
#   training/maze-len/stages.sh                  # s02 (from scratch), s03, s04b, s04c, s05: session 7's weights/maze
# Stage s02 trains a new model from scratch on the mazes whose shortest path is exactly 2 (one cell between S
# and G); every later stage trains on the mazes whose path length is in LO..HI, from the previous stage's
# exported weights (fresh optimiser), all on the 9x9 crop, from data/maze_p1_train.csv (sides 5-9, perfect
# mazes; the command is in weights/maze/README.md). A stage is "NAME LO HI LR MINUTES THREADS"; a line
# "+NAME MINUTES TOTAL_STEPS THREADS" resumes stage NAME's run for more minutes (s05's second part ran with
# 100,000 total steps, a flat 3e-4: the resume took the option's default, since fixed). Exports go to
# runs/maze-len/NAME (not in git); each stage's logs and train_config.json stay in training/maze-len/NAME/.
# Session 8 replaced this model with one trained with neighbour attention (training/maze-nbr/runs.sh), which
# learns every path length at once; to go on with this chain, start from runs/maze-len/s05 (PREV=...).
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
run() {  # run NAME DATA LR EXTRA...: one stage, its export in runs/maze-len/NAME
  mkdir -p "training/maze-len/$1"
  trmsolve train maze --canvas-crop 9 --data "$2" --out "training/maze-len/$1" --batch-size 64 --lr "$3" \
    --warmup 50 --weight-decay 0.1 --export "runs/maze-len/$1" \
    "${@:4}" > "training/maze-len/$1/train_stdout.log" 2>&1
}
prev=${PREV:-}
if [ -z "$prev" ]; then
  subset data/maze_p1_eq2.csv 2 2
  run s02 data/maze_p1_eq2.csv 5e-4 --hidden-size 128 --num-heads 4 --h-cycles 3 --l-cycles 4 \
    --puzzle-emb-ndim 128 --total-steps 2000 --threads 1 --minutes 10
  prev=runs/maze-len/s02
fi
# s03 ran 8 minutes, then 22 more resumed from its run directory; s02 and s03 at lr 5e-4, s04b too.
STAGES=${STAGES:-"s03 0 3 5e-4 30 2
s04b 3 4 5e-4 24 2
s04c 0 4 3e-4 40 2
s05 0 5 3e-4 45 1
+s05 38 100000 2"}
stage() {  # stage NAME LO HI LR MINUTES THREADS: paths LO..HI, from the previous stage's export
  subset "data/maze_p1_$1.csv" "$2" "$3"
  run "$1" "data/maze_p1_$1.csv" "$4" --init "$prev" --total-steps 3000 --threads "$6" --minutes "$5"
  prev="runs/maze-len/$1"
}
resume() {  # resume NAME MINUTES TOTAL_STEPS THREADS: more minutes of stage NAME's run, same data
  trmsolve train maze --data "data/maze_p1_$1.csv" --out "training/maze-len/$1" --minutes "$2" \
    --total-steps "$3" --threads "$4" --export "runs/maze-len/$1" > "training/maze-len/$1/train_stdout_part2.log" 2>&1
}
while read -r name fields; do
  case "$name" in
    "") ;;
    +*) resume "${name#+}" $fields ;;
    *) stage "$name" $fields ;;
  esac
done <<< "$STAGES"
