"""pass@K as the published evaluator computes it, and ARC Prize submission files."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trmsolve.arc.predict import ArcAnswer

PASS_KS = (1, 2, 5, 10, 100, 1000)  # the K of pass@K that the published evaluator reports
SUBMISSION_ATTEMPTS = 2  # attempts per test input in an ARC Prize submission


# ----------------------------------------------------------------------------------------------- scoring


@dataclass
class TaskScore:
    """How many of a task's test inputs have their known answer among the top K, for each K."""

    task_id: str
    tests: int
    passed: dict[int, int]

    def pass_at(self, k: int) -> float:
        return self.passed[k] / self.tests


@dataclass
class ArcScore:
    """pass@K as the published evaluator computes it: per task, the share of its test inputs answered
    within K attempts; overall, the mean over tasks. `example_pass_at` pools test inputs instead."""

    ks: tuple[int, ...]
    tasks: list[TaskScore] = field(default_factory=list)

    def pass_at(self, k: int) -> float:
        return sum(t.pass_at(k) for t in self.tasks) / len(self.tasks) if self.tasks else 0.0

    def example_pass_at(self, k: int) -> float:
        tests = sum(t.tests for t in self.tasks)
        return sum(t.passed[k] for t in self.tasks) / tests if tests else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "tasks": len(self.tasks),
            "tests": sum(t.tests for t in self.tasks),
            **{f"pass@{k}": round(self.pass_at(k), 6) for k in self.ks},
            **{f"example_pass@{k}": round(self.example_pass_at(k), 6) for k in self.ks},
        }


def score(answers: Iterable[ArcAnswer], ks: Sequence[int] = PASS_KS) -> ArcScore:
    """pass@K of the tasks whose every test input has a known answer, in order of first appearance."""
    by_task: dict[str, list[ArcAnswer]] = {}
    for answer in answers:
        by_task.setdefault(answer.task_id, []).append(answer)
    result = ArcScore(tuple(ks))
    for task, group in by_task.items():
        if any(a.puzzle.answer is None for a in group):
            continue
        result.tasks.append(TaskScore(task, len(group), {k: sum(bool(a.passes(k)) for a in group) for k in ks}))
    return result


def submission(answers: Iterable[ArcAnswer], attempts: int = SUBMISSION_ATTEMPTS) -> dict[str, list[dict[str, Any]]]:
    """The ARC Prize `submission.json` object: task -> one {"attempt_1": grid, ...} per test input in order."""
    by_task: dict[str, dict[int, ArcAnswer]] = {}
    for answer in answers:
        by_task.setdefault(answer.task_id, {})[answer.test_index] = answer
    return {
        task: [
            {f"attempt_{j + 1}": grid.tolist() for j, grid in enumerate(tests[index].attempts(attempts))}
            for index in sorted(tests)
        ]
        for task, tests in by_task.items()
    }


def write_submission(path: str | Path, answers: Iterable[ArcAnswer], attempts: int = SUBMISSION_ATTEMPTS) -> Path:
    path = Path(path)
    path.write_text(json.dumps(submission(answers, attempts)), encoding="utf-8")
    return path
