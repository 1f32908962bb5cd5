"""The README's fidelity table: largest absolute difference from the published outputs, per reference fixture.

python benchmarks/fidelity.py        # float32, every ACT step of tests/fixtures/reference/*
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

import trmsolve
from trmsolve.inference import refine

REFERENCE = Path(__file__).parent.parent / "tests" / "fixtures" / "reference"
NAMES = ["trm_att_rope", "trm_mlp_t", "trm_att_learned_arc", "hrm_rope"]


def main() -> None:
    print("| fixture | arch | steps | logits, step 1 | logits, any step | Q logits, any step | final z_H |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in NAMES:
        ref = load_file(str(REFERENCE / f"{name}.expected.safetensors"))
        steps = len({k.split(".")[0] for k in ref if k.startswith("step")})
        config = json.loads((REFERENCE / f"{name}.config.json").read_text())
        model = trmsolve.load_model(REFERENCE / f"{name}.pt", config=config)
        records = list(refine(model, ref["inputs"], ref["puzzle_identifiers"], max_steps=steps, halt=False))
        logits = [(r.logits - ref[f"step{r.step}.logits"]).abs().max().item() for r in records]
        q = max(
            (getattr(r, f) - ref[f"step{r.step}.{f}"]).abs().max().item()
            for r in records
            for f in ("q_halt_logits", "q_continue_logits")
        )
        z_H = (records[-1].z_H - ref["final.z_H"]).abs().max().item()
        cells = [f"`{name}`", model.config.arch, str(steps), *(f"{v:.1e}" for v in (logits[0], max(logits), q, z_H))]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
