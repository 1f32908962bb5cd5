#!/usr/bin/env bash
# Neighbour-attention maze runs (session 8), from the repository root. Each cell attends to itself and its
# four neighbours only (`--neighbour-attention`), so the network learns one local rule that applies to any
# size of maze. The data files are made by the commands in weights/maze/README.md ("Data").
#   n01: from scratch, perfect mazes of 5-9 a side, every path length (the mixture that stalled the
#        all-to-all attention model), 9x9 crop; stopped by hand at 64 minutes (step 1,330) to free its core
#   n02: from scratch, every style of 5-9 a side (perfect, loopy, obstacle fields), 9x9 crop; stopped by hand
#        (planned 100 minutes): its checkpoint at 52.9 minutes (step 1,158) is weights/maze
#   n03: from n02's weights, every style of 5-17 a side, 17x17 crop; stopped by hand at 38 minutes (step 227) to
#        evaluate and ship within the session (an earlier n03 from n01's weights ran 15 minutes, not kept)
#   n04 (session 9): from weights/maze (n02), long paths: 9-13 a side with shortest paths of 20+ (perfect and
#        loopy) or 14+ (obstacle fields), plus 8,000 of n02's small mazes, 13x13 crop
#   n05 (session 9): n04 at a third of its learning rate (n04 fell from n02's 47% on its held-out split to 0 in
#        20 minutes); run with MINUTES=80, stopped by hand at 42: its checkpoint at 21.9 minutes is weights/maze
#   n06 (session 9): as n05 on larger mazes with longer paths: 13-17 a side, shortest paths of 24+ (perfect and
#        loopy) or 18+ (obstacle fields), plus 8,000 of n02's small mazes, 17x17 crop
#   n07 (session 10): from weights/maze (n05), obstacle fields first: 9-17 a side with long paths (maze_o1_train:
#        40,000 obstacle fields of 9-17 (paths 14+, 18+), 16,000 long-path perfect/loopy, 4,000 of n02's), 17x17
#        crop, lr 1e-4, held-out obstacle fields as the selection split; run 70 minutes; its checkpoint at step 146
#        (40 minutes, best evaluation) was measured on the test sets and not shipped (weights/maze/README.md)
#   n08 (session 10): n07 at lr 3e-5; stopped by hand at 42 minutes
#   h01 (session 10): hard mazes: 30x30 (every generator) with shortest paths of 50+ (maze_h1_train), full canvas,
#        the selection split has paths of 70+ (the hard test's rule); keeps RUN/best. Session 10 ran it with
#        INIT=runs/maze-nbr/n07_s146 (n07's step-146 export) MINUTES=65
#   n09 (session 11): from weights/maze (n05), wide obstacle fields with short paths (the misses of session 10's
#        analysis): maze_w1_train = 20,000 obstacle fields of 13-17 with paths of 10+, 8,000 of maze_o1_obstacles,
#        8,000 each of the long-path perfect/loopy sets, 4,000 of n02's; 17x17 crop, lr 1e-4, keeps RUN/best;
#        collapsed (selection 4% all steps at 23 minutes), stopped by hand at 31 minutes
#   n10 (session 11): from weights/maze (n05), longer paths on larger mazes: maze_l3_train = 16,000 perfect/loopy
#        mazes of 17-21 with paths of 40+, 8,000 each of maze_l2_perfect, maze_l1_perfect and maze_w1_obstacles,
#        4,000 of n02's; 21x21 crop, lr 3e-5, warm-up 100; selection: perfect 17-21 with paths of 40+;
#        0 of 50 at 15 and 40 minutes, stopped by hand at 71
#   n11 (session 12): from weights/maze (n05) with one H cycle a step instead of three (--h-cycles 1 with --init:
#        the same weights; an ACT step reaches 10 cells instead of 30, so paths longer than that must be carried
#        from step to step, and a step costs 15 instead of 25 units of work), on n07's data (maze_o1_train), 17x17
#        crop, lr 1e-4, warm-up 50, keeps RUN/best; run with MINUTES=165 beside the session's other work
#   n12 (session 12): from n11's best evaluation (step 267: `cp -r training/maze-nbr/n11/best runs/maze-nbr/n11_s267`),
#        session 9's maze_l2_train (perfect/loopy 13-17 with paths of 24+, obstacle fields 13-17 with 18+, 8,000 of
#        n02's), lr 3e-5, warm-up 20, two threads, 32 minutes; its best evaluation (step 357) is weights/maze
#   n13 (session 13): from weights/maze (n12), long paths at 21x21 (maze_l3_train), lr 5e-5; not shipped
#   n14, n15 (session 14): from weights/maze, 17x17 crop, long perfect/loopy paths of 36+ (maze_l4_train), lr 5e-5;
#        n15 with --max-steps 32; n14's best evaluation (step 811, `cp -r training/maze-nbr/n14/best
#        runs/maze-nbr/n14_s811`) draws long paths, n16 and n18 start from it
#   n16 (session 14): n14's step 811 with obstacle fields back in the mix (maze_m1_train), lr 3e-5
#   n17 (session 15): n14's recipe on n16's mix, from weights/maze (n12): obstacle fields from the start
#   n18 (session 15): from n14's step 811, 17x17 perfect/loopy paths of 60+ (maze_l5_perfect) with replay of
#        36+ paths and obstacle fields (maze_m2_train); selection: 50 paths of 60+ and 50 obstacle fields;
#        stopped by hand at 23 minutes (its selection figures fell after step 168: `cp -r training/maze-nbr/n18/best
#        runs/maze-nbr/n18_s168`)
#   n19 (session 15): n18's step 168 on the same data at lr 2e-5
#   n20 (session 15): n18's step 168 on the 21x21 crop: perfect/loopy mazes of 19-21 with paths of 70+
#        (maze_l6_perfect) and replay (maze_m3_train); selection: 50 21x21 paths of 70+, 50 obstacle fields
#   n21 (session 16): n20 again from weights/maze (n18's step 168) at half its rate, with twice the replay of the
#        17x17 paths of 60+ (maze_m4_train), evaluations every 6 minutes ranked by answers reached at some step
#        (`train.selection_score`: what verified solving finds), not by the last step's
#   n22 (session 16): n21 with 32 ACT steps (--max-steps 32): on hard 30x30 mazes the shipped model draws 70% of
#        the path and ~90 cells off it from step 16 to 64 (benchmarks/maze_path_progress.py): the work stops
#        carrying from step to step after the 16 it was trained with
#   n21 fell from its first evaluation like the runs before it (reached 35% -> 30% in 30 minutes); stopped by hand.
#   n23 (session 16): n21 with the prefix embedding held nearly still (--puzzle-emb-lr 1e-5, was 1e-2): every
#        maze shares one puzzle identifier, so sign-SGD moved the one prefix token every cell attends to by 0.01
#        a coordinate a step (mean |change| 0.06 per run, a third of its size) while the network moved at 5e-5;
#        with --compile
#   n22 was resumed with --compile at its step 133 (38 minutes); n23's first evaluation (reached 30%) was below
#        n21's, so the prefix embedding is not what made the runs fall; stopped by hand at 15 minutes
#   n24 (session 16): n22 (32 ACT steps) at twice the rate (3e-5), with --compile
#   n25 (session 17): from weights/maze (n22's step 132), 23-25 a side, every generator (rooms and organic too:
#        the hard test has them), paths of 60+, with replay, 25x25 crop, 32 ACT steps; selection 200 (150 of
#        25x25 paths 70+, 50 obstacle fields: 100 was +-5 points)
#   n26 (session 17): beside n25, straight to the full 30x30 canvas: the hard test's generator (paths of 70+,
#        other seed) with replay of 23-25 and 19-21; selection: 200 of the same generator
#   Session 17 resumed both after their first evaluation (`trmsolve train maze --out training/maze-nbr/NAME ...`,
#   the same arguments): an evaluation of 200 mazes cost n25 15 minutes and n26 30 (each protocol ran its own
#   pass then), so n25 went on with --eval-minutes 20 and n26 with --eval-size 100 --eval-minutes 30, and both
#   with the evaluation that scores both protocols in one pass (commit d639ae0)
#   n25 stopped at step 468 (best evaluation step 246, below the start's), n26 at step 241 (nothing reached): neither
#   kept (weights/maze/README.md, session 17)
#   n27 (session 17, the last 30 minutes): n25 with two H cycles an ACT step (--h-cycles 2: 20 cells of reach a
#        step), selected on 25x25 mazes alone (the first 150 of maze_l7_select: m5's obstacle half hid them)
#        stopped at step 85 (23 minutes): 1.3% reached at its one evaluation (the start: 5.3%)
#   n28 (session 18): n25 with --answer-weight 4 (each path cell's loss counts 4 times: n25 and n26 learned to
#        draw fewer path cells), selected on 25x25 mazes alone (l7_select150)
#        fell to 2.7% reached at step 195 and 0 at step 317 (start 5.3%); stopped at step 382 (71 minutes)
#   n29 (session 18): n25's data with 64 ACT steps a maze (--max-steps 64; going from 16 to 32 made n22, today's
#        weights/maze), selected on 100 25x25 mazes: 6% reached at step 193 (the start: 4%), 2% at step 423;
#        stopped at step 430 (51 minutes)
#   n30 (session 19): n22's recipe (21x21, 32 ACT steps, maze_m4_train) from weights/maze with the prefix token
#        scored against the cells without rotary positions (--position-free-prefix): the shipped model solves a
#        21x21 maze moved 9 cells down and right on the canvas far less often (reached 22% -> 8%, l6_held50), so
#        its rule depends on where a cell is, and 30x30 mazes put cells where it never trained; lr 5e-5 to
#        recover from the change (zero-shot: reached 4%)
#   n30 stopped at step 326 (31 minutes): the obstacle fields came back (64% reached at step 110) but not the long
#        paths (0 of l6_held50 at steps 110 and 318): the prefix token's positions were part of the rule
#   n31 (session 19): n22's recipe on the whole canvas (--canvas-crop 0), so the dihedral transforms put the mazes
#        in all four corners of the 30x30 canvas and the positional rule trains where 30x30 mazes reach; lr 3e-5;
#        selected on the first 50 of maze_l6_select as given and moved 9 cells down and right (maze_l6_moved100)
#   n31 stopped at step 172 (39 minutes): the selection split fell from the start's 11% reached (bfloat16) to 3% at
#        step 37 and 0 at step 155
#   n32 (session 19): n22's recipe at a tenth of n22's rate (5e-6): every run so far lost the long paths within
#        40-300 steps at 1.5e-5-5e-5, as if any coordinated change of the weights were amplified over the 320 block
#        applications of 32 steps; selected on 21x21 long paths alone (the first 50 of maze_l6_select)
#   n33 (session 19): n02's recipe from scratch with --position-free-prefix: does a model that cannot tell where
#        a cell is learn the small mazes as fast as n02 did (obstacle test 5-9: 78% at step 713, 98% at 1,043)?
#   n32 stopped at step 171 (16 minutes): 4% reached at step 115 (start 14%); its dense weights had moved 0.1%
#        (the prefix embedding 26%), and the long paths fell only with the dense part of that change, not with
#        a random change of the same size (benchmarks/weight_change_parts.py): the direction of training hurts
#   n34 (session 19): n32 with the token loss from the 16th ACT step on (--supervise-from 16): on a long maze the
#        early steps cannot know the path, and a loss there may pull the rule away from what solves it
#   n34 stopped at step 227 (20 minutes): 22% reached at step 81, then 0 at step 194: later, but it fell too
#   n35 (session 19): n32 with the prefix embedding at the network's rate (--puzzle-emb-lr 5e-6): sign-SGD moves the
#        one prefix token 1e-2 a coordinate a step whatever --lr says (26% of its size by n32's step 116), the one
#        thing that moved as fast in every run that fell; the published maze recipe gives it the network's rate
#   n33 (45 minutes, step 1,411): 99% of the 5-9 obstacle test, all steps (n02: 98% at step 1,043)
#   n35 ran its 22 minutes (step 288): 22% reached at step 88, 12% at 184, 0 at 268, 8% at 288: it fell too
#   n36 (session 20): the position-free lineage, stage 2: n05's recipe (9-13 long paths, 13x13 crop, lr 1e-4) from
#        n33's weights (runs/maze-nbr/n33, session 19: `RUNS=n33` remakes them in 45 minutes)
#   n37 (session 20): n11's recipe (one H cycle a step, 17x17 crop, maze_o1_train, lr 1e-4) from n33 directly,
#        beside n36: is n05's stage needed?
#   n38 (session 20): the same from n36's best evaluation (`cp -r training/maze-nbr/n36/best runs/maze-nbr/n36_best`)
#   n39 (session 20): n14's recipe (17x17, paths of 36+, lr 5e-5) from n38's step 168 (its best evaluation then:
#        `cp -r training/maze-nbr/n38/best runs/maze-nbr/n38_s168`); n38 beat n37 (98% against 69%, all steps)
#   n40 (session 20): n22's recipe (21x21, 32 ACT steps, maze_m4_train) at lr 3e-5 from n39's best evaluation at the
#        time (`cp -r training/maze-nbr/n39/best runs/maze-nbr/n39_sSTEP`; N39_STEP=STEP), beside n39's end
#   n41 (session 20): n40 from n39's last best evaluation (`cp -r training/maze-nbr/n39/best runs/maze-nbr/n39_best`)
#   Session 20's results (weights/maze/README.md): n36 95% of its split at step 435 (n05: 76%); n38 98% (n37, without
#        n36's stage: 69%); n39 51% of maze_l4_select at step 840 (n14: 30%); n40 peaked at step 292 (55% reached) and
#        fell; n41's step 437 (62% reached, still rising at the session's end: `cp -r training/maze-nbr/n41/best
#        runs/maze-nbr/n41_s437`) is weights/maze
#   n42 (session 21): n41 going on (it was still rising): n41's recipe from weights/maze (n41's step 437), 60 minutes
#   n43 (session 21): beside n42, n25's 25x25 stage (maze_m5_train, 25x25 crop, 32 ACT steps) from weights/maze, the
#        position-free lineage (the old lineage's n25 fell below its start), lr 3e-5, selected on the 25x25 mazes alone
#        (the first 100 of maze_l7_select150)
#   n42 stopped by hand at step 367 (47 minutes): 64% reached at step 104 (the start, n41's step 437: 62%), then 57-58%
#   n44 (session 21): n26's whole-canvas stage (maze_m6_train: the hard test's generator, 30x30 paths of 70+, with
#        replay) from the position-free lineage (INIT, default weights/maze), lr 3e-5, 32 ACT steps; selected on 50
#        of maze_h2_select200
#   n43 stopped by hand at step 382 (73 minutes): reached 0%, 19%, 27%, 11% at steps 58, 138, 220, 303 (`cp -r
#        training/maze-nbr/n43/best runs/maze-nbr/n43_s220`)
#   n44 stopped by hand at step 98 (26 minutes): 0 of 50 reached at its one evaluation (step 34)
#   n45 (session 21): n44 from n43's step 220 (`INIT=runs/maze-nbr/n43_s220`; n43's selection fell to 0 at its first
#        evaluation and rose to 27% by its third: n44 was stopped after its first), evaluations every 10 minutes
#   n45 stopped by hand at step 93 (23 minutes, beside three evaluations): 2% reached at its one evaluation (step 41),
#        to free both cores for the shipped model's evaluations
#   n46 (session 22): n45 again from weights/maze (n43's step 220, the same start), given 110 minutes and an
#        evaluation every 12: n43 fell to 0 at its first evaluation and rose to 27% by its third
#   n47 (session 22): beside n46, n43's 25x25 stage again from weights/maze (n43's step 220) at half its rate
#        (n43 rose to 27% by step 220 at 3e-5, then fell to 11%)
#   n46 stopped by hand at step 351 (53 minutes): 0 of 50 reached at steps 58, 152 and 286
#   n47 stopped by hand at step 680 (70 minutes): reached 28% at its start (step 2), then 10, 16 and 12%
#   n48 (session 22): n43's recipe one size up, in n46's place: 26-27 a side, every generator, paths of 70+
#        (maze_l8_all), replay as n26's mix, 27x27 crop, lr 3e-5; selected on 50 27x27 mazes (maze_l8_select)
#   n48 stopped by hand at step 645 (49 minutes): 12%, 10%, 12% reached at steps 103, 298, 495 (the start, the
#        shipped model, on the same 50: 12%)
#   n26's `--canvas-crop 0` kept weights/maze's 21 under the code of its start (only a crop other than 0 replaced
#   the initial model's; now a typed crop does): its batches of 30x30 mazes ran on the whole canvas all the same
# Run them one at a time (each on one core here: --threads 1) or side by side as in session 8. Logs, the
# held-out evaluations during training (log.jsonl) and train_config.json stay in training/maze-nbr/NAME;
# exports go to runs/maze-nbr/NAME (not in git). RUNS="n03" runs just that one; to go on from the shipped
# weights on another machine, on both cores (its 600-step schedule is about 55 minutes on two cores):
#   INIT=weights/maze THREADS=2 MINUTES=55 RUNS=n03 training/maze-nbr/runs.sh
set -e
small=(--canvas-crop 9 --neighbour-attention --batch-size 64 --lr 5e-4 --warmup 50 --weight-decay 0.1
  --hidden-size 128 --num-heads 4 --h-cycles 3 --l-cycles 4 --puzzle-emb-ndim 128 --total-steps 4000 --threads 1)
run() {  # run NAME ARGS...: one run, its stdout/stderr in training/maze-nbr/NAME/train_stdout.log
  mkdir -p "training/maze-nbr/$1"
  # Every run here had the prefix embedding at 1e-2, train's default until session 19 (now the published 1e-4
  # for maze); a run's own --puzzle-emb-lr, later on the line, wins.
  trmsolve train maze --out "training/maze-nbr/$1" --export "runs/maze-nbr/$1" --puzzle-emb-lr 1e-2 "${@:2}" \
    > "training/maze-nbr/$1/train_stdout.log" 2>&1
}
mix() {  # mix OUT FIRST NAME:K...: FIRST's rows, then random.Random(0).sample(K) of data/NAME.csv's, header once
  python - "$@" <<'PY'
import csv, random, sys
out, first, *parts = sys.argv[1:]
rows = list(csv.reader(open(first)))
for part in parts:
    name, k = part.split(":")
    rows += random.Random(0).sample(list(csv.reader(open(f"data/{name}.csv")))[1:], int(k))
csv.writer(open(out, "w", newline=""), lineterminator="\n").writerows(rows)
PY
}
for name in ${RUNS:-n01 n02 n03 n04 n05 n06 n07 n08 h01 n09 n10 n11 n12 n13 n14 n15 n16 n17 n18 n19 n20}; do
  case "$name" in
    n01) run n01 "${small[@]}" --data data/maze_p1_train.csv --eval-data data/maze_c1_test_perfect.csv \
           --eval-size 200 --eval-minutes 10 --minutes 64 ;;
    n02) run n02 "${small[@]}" --data data/maze_c1_train.csv --eval-data data/maze_c1_test_obstacles.csv \
           --eval-size 100 --eval-minutes 15 --minutes 53 ;;
    n33) run n33 "${small[@]}" --position-free-prefix --data data/maze_c1_train.csv \
           --eval-data data/maze_c1_test_obstacles.csv --eval-size 100 --eval-minutes 15 --minutes "${MINUTES:-45}" ;;
    n03) python - <<'PY'  # every style, sides 5-17: the 7-17 and the 5-9 training sets, header once
import csv
big, small = (list(csv.reader(open(f"data/maze_{n}_train.csv"))) for n in ("s1", "c1"))
csv.writer(open("data/maze_s1c1_train.csv", "w", newline="")).writerows(big + small[1:])
PY
         run n03 --canvas-crop 17 --init "${INIT:-runs/maze-nbr/n02}" --data data/maze_s1c1_train.csv \
           --eval-data data/maze_test_perfect.csv --eval-size 50 --eval-minutes 25 --batch-size 64 --lr 3e-4 \
           --warmup 50 --weight-decay 0.1 --total-steps 600 --threads "${THREADS:-1}" --minutes "${MINUTES:-38}" ;;
    n04|n05) lr=3e-4; [ "$name" = n05 ] && lr=1e-4
         run "$name" --canvas-crop 13 --init "${INIT:-weights/maze}" --data data/maze_l1_train.csv \
           --eval-data data/maze_l1_test_perfect.csv --eval-size 100 --eval-minutes 20 --batch-size 64 --lr $lr \
           --warmup 50 --weight-decay 0.1 --total-steps 2000 --threads "${THREADS:-1}" --minutes "${MINUTES:-150}" ;;
    n06) run n06 --canvas-crop 17 --init "${INIT:-weights/maze}" --data data/maze_l2_train.csv \
           --eval-data data/maze_l2_select.csv --eval-size 100 --eval-minutes 20 --batch-size 64 --lr 1e-4 \
           --warmup 50 --weight-decay 0.1 --total-steps 1000 --threads "${THREADS:-1}" --minutes "${MINUTES:-60}" ;;
    n07|n08) lr=1e-4; [ "$name" = n08 ] && lr=3e-5
         run "$name" --canvas-crop 17 --init "${INIT:-weights/maze}" --data data/maze_o1_train.csv \
           --eval-data data/maze_o1_select.csv --eval-size 100 --eval-minutes 10 \
           --batch-size 64 --lr $lr --warmup 50 --weight-decay 0.1 --total-steps 1000 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-70}" ;;
    n09) run n09 --canvas-crop 17 --init "${INIT:-weights/maze}" --data data/maze_w1_train.csv \
           --eval-data data/maze_o1_select.csv --eval-size 100 --eval-minutes 10 \
           --batch-size 64 --lr 1e-4 --warmup 50 --weight-decay 0.1 --total-steps 1000 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-100}" ;;
    n10) run n10 --canvas-crop 21 --init "${INIT:-weights/maze}" --data data/maze_l3_train.csv \
           --eval-data data/maze_l3_select.csv --eval-size 50 --eval-minutes 15 \
           --batch-size 64 --lr 3e-5 --warmup 100 --weight-decay 0.1 --total-steps 1000 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-80}" ;;
    n11) run n11 --canvas-crop 17 --init "${INIT:-weights/maze}" --h-cycles 1 --data data/maze_o1_train.csv \
           --eval-data data/maze_o1_select.csv --eval-size 100 --eval-minutes 15 \
           --batch-size 64 --lr 1e-4 --warmup 50 --weight-decay 0.1 --total-steps 2000 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-165}" ;;
    n12) run n12 --init "${INIT:-runs/maze-nbr/n11_s267}" --data data/maze_l2_train.csv \
           --eval-data data/maze_l2_select.csv --eval-size 100 --eval-minutes 8 \
           --batch-size 64 --lr 3e-5 --warmup 20 --weight-decay 0.1 --total-steps 1000 --threads "${THREADS:-2}" \
           --minutes "${MINUTES:-32}" ;;
    n13) run n13 --init "${INIT:-weights/maze}" --canvas-crop 21 --data data/maze_l3_train.csv \
           --eval-data data/maze_l3_select.csv --eval-size 50 --eval-minutes 12 \
           --batch-size 64 --lr 5e-5 --warmup 50 --weight-decay 0.1 --total-steps 3000 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-150}" ;;
    n14|n39) mix data/maze_l4_train.csv data/maze_l4_perfect.csv maze_l2_perfect:6000 maze_w1_obstacles:6000 \
           maze_c1_train:2000  # long perfect/loopy paths 15-17 (36+), replay of shorter paths and obstacle fields
         if [ "$name" = n39 ]; then  # the position-free lineage: n38 at step 168, selection on 100
           run n39 --init "${INIT:-runs/maze-nbr/n38_s168}" --compile --data data/maze_l4_train.csv \
             --eval-data data/maze_l4_select.csv --eval-size 100 --eval-minutes 8 --batch-size 64 --lr 5e-5 \
             --warmup 50 --weight-decay 0.1 --total-steps 3000 --threads "${THREADS:-1}" --minutes "${MINUTES:-40}"
           continue
         fi
         run n14 --init "${INIT:-weights/maze}" --canvas-crop 17 --data data/maze_l4_train.csv \
           --eval-data data/maze_l4_select.csv --eval-size 50 --eval-minutes 15 \
           --batch-size 64 --lr 5e-5 --warmup 50 --weight-decay 0.1 --total-steps 3000 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-150}" ;;
    n15) run n15 --init "${INIT:-weights/maze}" --canvas-crop 17 --max-steps 32 --data data/maze_l4_train.csv \
           --eval-data data/maze_l4_select.csv --eval-size 50 --eval-minutes 15 \
           --batch-size 64 --lr 5e-5 --warmup 50 --weight-decay 0.1 --total-steps 3000 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-140}" ;;
    n16|n17) mix data/maze_m1_train.csv data/maze_o1_obstacles.csv maze_w1_obstacles:8000 maze_l4_perfect:12000 \
           maze_l2_perfect:4000 maze_c1_train:2000  # obstacle fields back beside the long paths
         { head -n 51 data/maze_l4_select.csv; sed -n 2,51p data/maze_o1_select.csv; } > data/maze_m1_select.csv
         if [ "$name" = n16 ]; then
           run n16 --init "${INIT:-runs/maze-nbr/n14_s811}" --data data/maze_m1_train.csv \
             --eval-data data/maze_m1_select.csv --eval-size 100 --eval-minutes 8 \
             --batch-size 64 --lr 3e-5 --warmup 20 --weight-decay 0.1 --total-steps 1000 --threads "${THREADS:-1}" \
             --minutes "${MINUTES:-35}"
         else  # n14's recipe on this mix: obstacle fields from the start
           run n17 --init "${INIT:-weights/maze}" --canvas-crop 17 --data data/maze_m1_train.csv \
             --eval-data data/maze_m1_select.csv --eval-size 100 --eval-minutes 10 \
             --batch-size 64 --lr 5e-5 --warmup 50 --weight-decay 0.1 --total-steps 3000 --threads "${THREADS:-1}" \
             --minutes "${MINUTES:-120}"
         fi ;;
    n18|n19) mix data/maze_m2_train.csv data/maze_l5_perfect.csv maze_l4_perfect:6000 maze_o1_obstacles:8000 \
           maze_w1_obstacles:4000 maze_c1_train:2000  # 17x17 paths of 60+, replay of 36+ and of obstacle fields
         { head -n 51 data/maze_l5_select.csv; sed -n 2,51p data/maze_o1_select.csv; } > data/maze_m2_select.csv
         if [ "$name" = n18 ]; then
           run n18 --init "${INIT:-runs/maze-nbr/n14_s811}" --canvas-crop 17 --data data/maze_m2_train.csv \
             --eval-data data/maze_m2_select.csv --eval-size 100 --eval-minutes 10 \
             --batch-size 64 --lr 5e-5 --warmup 50 --weight-decay 0.1 --total-steps 3000 --threads "${THREADS:-1}" \
             --minutes "${MINUTES:-70}"
         else  # from n18's best evaluation (step 168) at a lower learning rate
           run n19 --init "${INIT:-runs/maze-nbr/n18_s168}" --data data/maze_m2_train.csv \
             --eval-data data/maze_m2_select.csv --eval-size 100 --eval-minutes 8 \
             --batch-size 64 --lr 2e-5 --warmup 20 --weight-decay 0.1 --total-steps 1000 --threads "${THREADS:-1}" \
             --minutes "${MINUTES:-50}"
         fi ;;
    n20) mix data/maze_m3_train.csv data/maze_l6_perfect.csv maze_l5_perfect:8000 maze_o1_obstacles:8000 \
           maze_w1_obstacles:4000 maze_c1_train:2000  # 19-21 paths of 70+ on the 21x21 crop, with replay
         { head -n 51 data/maze_l6_select.csv; sed -n 2,51p data/maze_o1_select.csv; } > data/maze_m3_select.csv
         run n20 --init "${INIT:-runs/maze-nbr/n18_s168}" --canvas-crop 21 --data data/maze_m3_train.csv \
           --eval-data data/maze_m3_select.csv --eval-size 100 --eval-minutes 10 \
           --batch-size 64 --lr 3e-5 --warmup 20 --weight-decay 0.1 --total-steps 1000 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-45}" ;;
    n21|n22|n23|n24|n40|n41|n42) mix data/maze_m4_train.csv data/maze_l6_perfect.csv maze_l5_perfect:16000 maze_o1_obstacles:8000 \
           maze_w1_obstacles:4000 maze_c1_train:2000  # n20's data with twice the 17x17 replay
         { head -n 51 data/maze_l6_select.csv; sed -n 2,51p data/maze_o1_select.csv; } > data/maze_m3_select.csv
         steps=16; lr=1.5e-5; extra=(); init=weights/maze; evals=6; minutes=100
         case $name in n22) steps=32 ;; n23) extra=(--puzzle-emb-lr 1e-5 --compile) ;;
           n24) steps=32 lr=3e-5 extra=(--compile) ;;
           n40) steps=32 lr=3e-5 extra=(--compile) init=runs/maze-nbr/n39_s${N39_STEP:-350} evals=10 minutes=52 ;;
           n41) steps=32 lr=3e-5 extra=(--compile) init=runs/maze-nbr/n39_best evals=10 minutes=34 ;;
           n42) steps=32 lr=3e-5 extra=(--compile) evals=10 minutes=60 ;; esac
         run "$name" --init "${INIT:-$init}" --canvas-crop 21 --max-steps $steps "${extra[@]}" \
           --data data/maze_m4_train.csv \
           --eval-data data/maze_m3_select.csv --eval-size 100 --eval-minutes $evals \
           --batch-size 64 --lr $lr --warmup 20 --weight-decay 0.1 --total-steps 1000 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-$minutes}" ;;
    n25|n43|n47) mix data/maze_m5_train.csv data/maze_l7_all.csv maze_l6_perfect:10000 maze_l5_perfect:6000 \
           maze_o1_obstacles:6000 maze_w1_obstacles:3000 maze_c1_train:2000
         if [ "$name" != n25 ]; then  # selected on the 25x25 mazes alone
           select=data/maze_l7_select150.csv size=100 lr=3e-5 evals=12 minutes=100
           [ "$name" = n47 ] && lr=1.5e-5 minutes=90
           head -n 151 data/maze_l7_select.csv > "$select"
         else
           select=data/maze_m5_select.csv size=200 lr=1.5e-5 evals=10 minutes=120
           { head -n 151 data/maze_l7_select.csv; sed -n 2,51p data/maze_o1_select.csv; } > "$select"
         fi
         run "$name" --init "${INIT:-weights/maze}" --canvas-crop 25 --max-steps 32 --compile \
           --data data/maze_m5_train.csv --eval-data "$select" --eval-size $size --eval-minutes $evals \
           --batch-size 64 --lr $lr --warmup 20 --weight-decay 0.1 --total-steps 1500 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-$minutes}" ;;
    n26|n44|n45|n46) mix data/maze_m6_train.csv data/maze_h2_train.csv maze_l7_all:8000 maze_l6_perfect:6000 \
           maze_o1_obstacles:4000 maze_w1_obstacles:2000
         head -n 201 data/maze_h2_select.csv > data/maze_h2_select200.csv
         init=weights/maze size=200 lr=1.5e-5 evals=12 minutes=120
         case $name in n44) size=50 lr=3e-5 minutes=60 ;;
           n45) init=runs/maze-nbr/n43_s220 size=50 lr=3e-5 evals=10 minutes=50 ;;
           n46) size=50 lr=3e-5 evals=12 minutes=110 ;; esac
         run "$name" --init "${INIT:-$init}" --canvas-crop 0 --max-steps 32 --compile --data data/maze_m6_train.csv \
           --eval-data data/maze_h2_select200.csv --eval-size $size --eval-minutes $evals \
           --batch-size 64 --lr $lr --warmup 20 --weight-decay 0.1 --total-steps 1000 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-$minutes}" ;;
    n48) mix data/maze_m8_train.csv data/maze_l8_all.csv maze_l7_all:8000 maze_l6_perfect:6000 maze_o1_obstacles:4000 \
           maze_w1_obstacles:2000  # 26-27 a side, paths of 70+, with replay: the step between n43's 25x25 and 30x30
         head -n 51 data/maze_l8_select.csv > data/maze_l8_select50.csv
         run n48 --init "${INIT:-weights/maze}" --canvas-crop 27 --max-steps 32 --compile --data data/maze_m8_train.csv \
           --eval-data data/maze_l8_select50.csv --eval-size 50 --eval-minutes 12 --batch-size 64 --lr 3e-5 \
           --warmup 20 --weight-decay 0.1 --total-steps 1500 --threads "${THREADS:-1}" --minutes "${MINUTES:-80}" ;;
    n27) head -n 151 data/maze_l7_select.csv > data/maze_l7_select150.csv
         run n27 --init "${INIT:-weights/maze}" --canvas-crop 25 --max-steps 32 --h-cycles 2 --compile \
           --data data/maze_m5_train.csv --eval-data data/maze_l7_select150.csv --eval-size 150 --eval-minutes 12 \
           --batch-size 64 --lr 1.5e-5 --warmup 20 --weight-decay 0.1 --total-steps 1500 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-30}" ;;
    n28) run n28 --init "${INIT:-weights/maze}" --canvas-crop 25 --max-steps 32 --answer-weight 4 --compile \
           --data data/maze_m5_train.csv --eval-data data/maze_l7_select150.csv --eval-size 150 --eval-minutes 20 \
           --batch-size 64 --lr 1.5e-5 --warmup 20 --weight-decay 0.1 --total-steps 1500 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-120}" ;;
    n29) run n29 --init "${INIT:-weights/maze}" --canvas-crop 25 --max-steps 64 --compile \
           --data data/maze_m5_train.csv --eval-data data/maze_l7_select150.csv --eval-size 100 --eval-minutes 20 \
           --batch-size 64 --lr 1.5e-5 --warmup 20 --weight-decay 0.1 --total-steps 1500 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-55}" ;;
    n30) run n30 --init "${INIT:-weights/maze}" --position-free-prefix --canvas-crop 21 --max-steps 32 --compile \
           --data data/maze_m4_train.csv --eval-data data/maze_m3_select.csv --eval-size 100 --eval-minutes 12 \
           --batch-size 64 --lr 5e-5 --warmup 20 --weight-decay 0.1 --total-steps 1000 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-140}" ;;
    n31) python - <<'PY'  # the first 50 of maze_l6_select, then the same 50 moved 9 cells down and right
import csv
rows = list(csv.reader(open("data/maze_l6_select.csv")))
moved = lambda s: "#" * 270 + "".join("#" * 9 + s[r * 30 : r * 30 + 21] for r in range(21))
inside = lambda s: set(s[630:] + "".join(s[r * 30 + 21 : r * 30 + 30] for r in range(21))) == {"#"}
assert all(inside(s) for row in rows[1:51] for s in row[1:3])  # each maze within the top-left 21x21
out = rows[:51] + [[row[0], moved(row[1]), moved(row[2]), row[3]] for row in rows[1:51]]
csv.writer(open("data/maze_l6_moved100.csv", "w", newline=""), lineterminator="\n").writerows(out)
PY
         run n31 --init "${INIT:-weights/maze}" --canvas-crop 0 --max-steps 32 --compile \
           --data data/maze_m4_train.csv --eval-data data/maze_l6_moved100.csv --eval-size 100 --eval-minutes 15 \
           --batch-size 64 --lr 3e-5 --warmup 20 --weight-decay 0.1 --total-steps 1000 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-100}" ;;
    n36) run n36 --init "${INIT:-runs/maze-nbr/n33}" --canvas-crop 13 --compile --data data/maze_l1_train.csv \
           --eval-data data/maze_l1_test_perfect.csv --eval-size 100 --eval-minutes 8 --batch-size 64 --lr 1e-4 \
           --warmup 50 --weight-decay 0.1 --total-steps 2000 --threads "${THREADS:-1}" --minutes "${MINUTES:-30}" ;;
    n37|n38) init=runs/maze-nbr/n33; [ "$name" = n38 ] && init=runs/maze-nbr/n36_best
         run "$name" --init "${INIT:-$init}" --canvas-crop 17 --h-cycles 1 --compile --data data/maze_o1_train.csv \
           --eval-data data/maze_o1_select.csv --eval-size 100 --eval-minutes 8 --batch-size 64 --lr 1e-4 \
           --warmup 50 --weight-decay 0.1 --total-steps 2000 --threads "${THREADS:-1}" --minutes "${MINUTES:-35}" ;;
    n32|n34|n35) head -n 51 data/maze_l6_select.csv > data/maze_l6_select50.csv
         minutes=40; evals=8; extra=()
         case $name in n34) minutes=25 extra=(--supervise-from 16) ;;
           n35) minutes=22 evals=6 extra=(--puzzle-emb-lr 5e-6) ;; esac
         run "$name" --init "${INIT:-weights/maze}" --canvas-crop 21 --max-steps 32 --compile "${extra[@]}" \
           --data data/maze_m4_train.csv --eval-data data/maze_l6_select50.csv --eval-size 50 --eval-minutes $evals \
           --batch-size 64 --lr 5e-6 --warmup 20 --weight-decay 0.1 --total-steps 1000 --threads "${THREADS:-1}" \
           --minutes "${MINUTES:-$minutes}" ;;
    h01) run h01 --init "${INIT:-weights/maze}" --data data/maze_h1_train.csv --eval-data data/maze_h1_select.csv \
           --eval-size 50 --eval-minutes 20 --batch-size 32 --lr 1e-4 --warmup 30 --weight-decay 0.1 \
           --total-steps 3000 --threads "${THREADS:-1}" --minutes "${MINUTES:-60}" ;;
  esac
done
