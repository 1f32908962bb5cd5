"""Models from the Hugging Face Hub, end to end against a local stand-in (tests/hub_server.py): huggingface_hub's
real download, cache and offline code runs; only the endpoint is local.

huggingface_hub reads HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE when it is imported, as a new process would; the
`hub_server` fixture sets them and reloads its `constants` module so each test sees its own server and an empty cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REFERENCE, reference_config, reload_hf, saved
from hub_server import HubServer
from huggingface_hub import constants

from trmsolve import catalog, hub
from trmsolve.checkpoint import convert, load_published, read_config
from trmsolve.hub import Candidate, HubRef, find_models, parse_spec

EXAMPLES = Path(__file__).parent.parent / "examples"
TRMSOLVE = shutil.which("trmsolve", path=str(Path(sys.executable).parent)) or "trmsolve"


def run_config(reference: str, **arch: object) -> bytes:
    """An all_config.yaml as the training code writes it: the arch section, no data-set sizes."""
    return yaml.safe_dump({"arch": {**reference_config(reference)["arch"], **arch}, "epochs": 100}).encode()


def published(name: str = "trm_att_rope", folder: str = "", step: int = 100) -> dict[str, bytes]:
    """A published run: state dict, its all_config.yaml, and the model code the training copies beside them."""
    prefix = f"{folder}/" if folder else ""
    return {
        f"{prefix}step_{step}": (REFERENCE / f"{name}.pt").read_bytes(),
        f"{prefix}all_config.yaml": run_config(name),
        f"{prefix}trm.py": b"raise SystemExit('repository code must never run')\n",
    }


def ours(tmp_path: Path, name: str = "trm_att_rope") -> Path:
    """A model folder in our layout, as `trmsolve` publishes it."""
    out = convert(REFERENCE / f"{name}.pt", tmp_path / f"ours-{name}", config=reference_config(name))
    (out / "README.md").write_text("# a card\n")
    return out


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def reference_model(name: str = "trm_att_rope") -> torch.nn.Module:
    return load_published(REFERENCE / f"{name}.pt", config=reference_config(name))


# ------------------------------------------------------------------------------------------ names and layouts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("owner/repo", HubRef("owner/repo")),
        ("hf:owner/repo@v1.0", HubRef("owner/repo", "", "v1.0")),
        ("owner/repo/runs/a/step_5@refs/pr/3", HubRef("owner/repo", "runs/a/step_5", "refs/pr/3")),
        ("owner/my.repo_2/", HubRef("owner/my.repo_2")),
    ],
)
def test_parse_spec(text: str, expected: HubRef) -> None:
    assert parse_spec(text) == expected
    assert parse_spec(str(expected)) == expected


def test_parse_spec_merges_flags_and_rejects_bad_names() -> None:
    assert parse_spec("owner/repo/runs", revision="v2", file="step_9") == HubRef("owner/repo", "runs/step_9", "v2")
    for bad, message in [
        ("owner", "write hf:OWNER/REPO"),
        ("-owner/repo", "write hf:OWNER/REPO"),
        ("owner/repo/../x", "cannot contain"),
    ]:
        with pytest.raises(hub.HubError, match=message):
            parse_spec(bad)
    with pytest.raises(hub.HubError, match="two revisions"):
        parse_spec("owner/repo@v1", revision="v2")


def test_find_models_in_both_layouts() -> None:
    files = {
        "README.md",
        "all_config.yaml",
        "runs/a/step_900",
        "runs/a/step_1000",
        "runs/a/trm.py",
        "runs/b/all_config.yaml",
        "runs/b/checkpoint",
        "ours/config.json",
        "ours/model.safetensors",
        "ours/identifiers.json",
        "transformers/config.json",  # some other library's config, no weights beside it
    }
    found = find_models(files)
    assert [c.path for c in found] == ["ours", "runs/a/step_900", "runs/a/step_1000", "runs/b/checkpoint"]
    assert found[0] == Candidate(
        "ours", "trmsolve", ("ours/model.safetensors", "ours/config.json", "ours/identifiers.json")
    )
    assert found[1].run_config == "all_config.yaml"  # the nearest one above
    assert found[3].run_config == "runs/b/all_config.yaml"
    assert [c.path for c in find_models(files, "runs/b")] == ["runs/b/checkpoint"]
    named = Candidate("runs/a/trm.py", "published", ("runs/a/trm.py", "all_config.yaml"), "all_config.yaml")
    assert find_models(files, "runs/a/trm.py") == [named]  # a file named directly, whatever its name
    assert find_models(files, "ours/config.json")[0].layout == "trmsolve"
    assert find_models({"step_1"}) == [Candidate("step_1", "published", ("step_1",))]


# ------------------------------------------------------------------------------------------------- downloads


def test_our_layout_runs_from_the_snapshot(hub_server: HubServer, tmp_path: Path) -> None:
    commit = hub_server.add_dir("owner/ours", ours(tmp_path))
    model = hub.load_hub_model("owner/ours", task="sudoku")
    assert same_weights(model, reference_model())
    assert model.info.provenance["hub_commit"] == commit
    folder = hub.fetch("owner/ours")
    assert folder.parts[-2:] == ("snapshots", commit)
    assert not (folder / "README.md").exists()  # only what the model needs
    weights, config = hub_server.downloads()  # once: the second call found both in the cache
    assert weights.startswith("/lfs/") and config == f"/owner/ours/resolve/{commit}/config.json"


def test_published_layout_is_converted_once_and_pinned(hub_server: HubServer) -> None:
    commit = hub_server.add("owner/run", published())
    folder = hub.fetch("owner/run")
    assert folder == hub.converted_dir("owner/run", commit, "step_100")
    assert folder.is_relative_to(Path(constants.HF_HUB_CACHE))
    _, info = read_config(folder)
    assert info.task == "sudoku"
    assert info.provenance["hub_commit"] == commit and info.provenance["hub_path"] == "step_100"
    sent = len(hub_server.downloads())
    model = hub.load_hub_model("owner/run", task="sudoku")
    assert same_weights(model, reference_model())
    assert len(hub_server.downloads()) == sent, "the conversion is reused, nothing downloaded again"
    assert not any(p.endswith(".py") for p in hub_server.downloads()), "repository code is never fetched"


def test_published_safetensors_state_dict(hub_server: HubServer, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "state.safetensors"
    save_file(torch.load(REFERENCE / "trm_att_rope.pt", weights_only=True), str(path))
    hub_server.add("owner/st", {"ema.safetensors": path.read_bytes(), "all_config.yaml": run_config("trm_att_rope")})
    assert same_weights(hub.load_hub_model("owner/st"), reference_model())


def test_a_run_without_its_config_takes_one_given(hub_server: HubServer) -> None:
    hub_server.add("owner/bare", {"step_100": (REFERENCE / "trm_att_rope.pt").read_bytes()})
    no_config = r"step_100@\w{7}: no all_config\.yaml beside it .* pass the run's config with --config$"
    with pytest.raises(hub.HubError, match=no_config):
        hub.fetch("owner/bare")
    model = hub.load_hub_model("hf:owner/bare", config=reference_config("trm_att_rope"), task="sudoku")
    assert same_weights(model, reference_model())


def test_revisions_pin_their_own_commit(hub_server: HubServer) -> None:
    old = hub_server.add("owner/run", published("trm_mlp_t"), ref="v1")
    new = hub_server.add("owner/run", published("trm_att_rope"))
    assert hub.load_hub_model("owner/run@v1").config.mlp_t
    assert not hub.load_hub_model("owner/run").config.mlp_t
    assert hub.fetch("owner/run", revision=old) == hub.converted_dir("owner/run", old, "step_100")
    assert hub.fetch("owner/run") == hub.converted_dir("owner/run", new, "step_100")
    with pytest.raises(hub.HubNotFoundError, match="owner/run has no branch, tag or commit nope"):
        hub.fetch("owner/run@nope")


def test_several_checkpoints_ask_for_one(hub_server: HubServer) -> None:
    hub_server.add("owner/runs", published(folder="run", step=100) | published(folder="run", step=200))
    with pytest.raises(hub.HubError) as caught:
        hub.fetch("owner/runs")
    message = str(caught.value)
    assert "2 checkpoints: run/step_100, run/step_200; pick one with --file PATH" in message
    assert "--model hf:owner/runs/PATH" in message
    by_file = hub.fetch("owner/runs", file="run/step_200")
    assert hub.fetch("owner/runs/run/step_200") == by_file
    assert hub.fetch("owner/runs/run", file="step_200") == by_file


def test_missing_repo_and_file(hub_server: HubServer, tmp_path: Path) -> None:
    hub_server.add_dir("owner/ours", ours(tmp_path))
    no_repo = rf"no repository owner/nothing on {hub_server.endpoint} \(check the name; a private repo needs"
    with pytest.raises(hub.HubNotFoundError, match=no_repo):
        hub.fetch("owner/nothing")
    no_file = r"no file or folder weights\.bin in owner/ours; it has: README\.md, config\.json"
    with pytest.raises(hub.HubNotFoundError, match=no_file):
        hub.fetch("owner/ours", file="weights.bin")
    hub_server.add("owner/empty", {"README.md": b"nothing yet\n"})
    with pytest.raises(hub.HubError, match=r"no model here: expected config\.json \+ model\.safetensors"):
        hub.fetch("owner/empty")


def test_gated_repo_needs_a_token(hub_server: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    hub_server.add("org/gated", published(), gated=True)
    hub_server.tokens.add("hf_granted")
    expected = (
        rf"^hf:org/gated: the repo is gated: request access at {hub_server.endpoint}/org/gated, "
        r"then use a token of an account that has it \(`hf auth login` or HF_TOKEN\)$"
    )
    with pytest.raises(hub.HubAccessError, match=expected):
        hub.fetch("org/gated")
    monkeypatch.setenv("HF_TOKEN", "hf_not_granted")
    with pytest.raises(hub.HubAccessError, match=expected):
        hub.fetch("org/gated")
    monkeypatch.setenv("HF_TOKEN", "hf_granted")
    assert same_weights(hub.load_hub_model("org/gated"), reference_model())
    cdn = [r for r in hub_server.requests if r.path.startswith("/lfs/")]
    assert cdn and not any(r.authorized for r in cdn), "the token never leaves the Hub for the CDN"


# --------------------------------------------------------------------------------------- broken transfers


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("truncate", r"the download broke off \(Consistency check failed: file should be of size \d+ but has size"),
        ("corrupt", r"step_100@\w{7}: the download does not match the Hub \(sha256 \w{12}\.\.\., the Hub lists"),
    ],
)
def test_broken_transfer_is_reported_and_not_kept(hub_server: HubServer, fault: str, message: str) -> None:
    files = published()
    hub_server.add("owner/run", files)
    hub_server.fault = fault  # type: ignore[assignment]
    with pytest.raises(hub.HubTransferError, match=message + r".*run the command again$"):
        hub.fetch("owner/run")
    blob = hub.storage_dir("owner/run") / "blobs" / hashlib.sha256(files["step_100"]).hexdigest()
    assert not blob.exists() and not list(blob.parent.glob("*.incomplete")), "nothing broken is left in the cache"
    hub_server.fault = None
    assert same_weights(hub.load_hub_model("owner/run"), reference_model())


def test_dropped_connection_resumes(hub_server: HubServer) -> None:
    hub_server.add("owner/run", published())
    hub_server.fault = "drop_once"
    assert same_weights(hub.load_hub_model("owner/run"), reference_model())
    transfers = [r for r in hub_server.requests if r.path.startswith("/lfs/")]
    assert len(transfers) == 2, "huggingface_hub tried again after the connection broke"


# ----------------------------------------------------------------------------------------------- offline


def test_offline_from_the_cache(hub_server: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub_server.add("owner/run", published())
    hub_server.add_dir("owner/ours", ours(tmp_path))
    fetched = {spec: hub.fetch(spec) for spec in ("owner/run", "owner/ours")}
    hub_server.stop()
    for spec, folder in fetched.items():  # the network is gone: the cached commit is used
        assert hub.fetch(spec) == folder
    unreachable = rf"^hf:owner/new: cannot reach the Hub at {hub_server.endpoint}, and it is not in the cache "
    with pytest.raises(hub.HubOfflineError, match=unreachable + r"\(cached: hf:owner/ours, hf:owner/run/step_100\)$"):
        hub.fetch("owner/new")
    reload_hf(monkeypatch, HF_HUB_OFFLINE="1")
    for spec, folder in fetched.items():
        assert hub.fetch(spec) == folder
    assert same_weights(hub.load_hub_model("owner/run"), reference_model())
    offline = r"^hf:owner/run@v2: offline mode is on \(HF_HUB_OFFLINE=1\), and it is not in the cache "
    with pytest.raises(hub.HubOfflineError, match=offline + r"\(cached from this repo: hf:owner/run/step_100\)$"):
        hub.fetch("owner/run@v2")


def test_offline_with_an_empty_cache(hub_server: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    reload_hf(monkeypatch, HF_HUB_OFFLINE="1")
    with pytest.raises(hub.HubOfflineError, match=r"offline mode is on .* \(nothing from the Hub is cached yet\)"):
        hub.fetch("owner/run")
    assert hub_server.requests == []


def test_cached_and_known_models(hub_server: HubServer, tmp_path: Path) -> None:
    run_commit = hub_server.add("owner/run", published(), ref="v1")
    hub_server.add_dir("owner/ours", ours(tmp_path))
    hub.fetch("owner/run@v1")
    hub.fetch("owner/ours")
    hub_server.stop()
    cached = hub.cached_models()
    assert [(m.spec, m.task, m.layout) for m in cached] == [
        ("hf:owner/ours", "sudoku", "trmsolve"),
        ("hf:owner/run/step_100@v1", "sudoku", "published"),
    ]
    assert cached[1].commit == run_commit and cached[1].local == hub.converted_dir("owner/run", run_commit, "step_100")
    assert {k.task for k in catalog.KNOWN_CHECKPOINTS} == {"sudoku", "maze", "arc"}
    assert all(k.reported.startswith(("paper: ", "owner: ")) for k in catalog.KNOWN_CHECKPOINTS)  # never ours


# ------------------------------------------------------------------------------------ what is in the file


def test_unknown_architecture(hub_server: HubServer) -> None:
    hub_server.add("owner/odd", published() | {"all_config.yaml": run_config("trm_att_rope", name="mine@Other")})
    unknown = r"^hf:owner/odd/step_100@\w{7}: unknown architecture 'mine@Other' \(supported: "
    with pytest.raises(hub.CheckpointError, match=unknown):
        hub.fetch("owner/odd")


def test_shapes_that_fit_no_task(hub_server: HubServer) -> None:
    state = torch.load(REFERENCE / "trm_att_rope.pt", weights_only=True)
    for key in [k for k in state if k.endswith(("embed_tokens.embedding_weight", "lm_head.weight"))]:
        state[key] = torch.zeros(7, state[key].shape[1])
    hub_server.add("owner/seven", {"step_1": saved(state), "all_config.yaml": run_config("trm_att_rope")})
    with pytest.raises(hub.CheckpointError, match=r"vocabulary 7 fits no known task\); pass --task sudoku\|maze\|arc"):
        hub.fetch("owner/seven")
    with pytest.raises(hub.CheckpointError, match=r"step_1@\w{7}: vocabulary of 7 tokens does not fit task sudoku"):
        hub.load_hub_model("owner/seven", task="sudoku")


class Payload:
    """Pickles to a call of os.system: what a malicious checkpoint carries."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_a_checkpoint_with_code_is_refused_unrun(hub_server: HubServer, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    state = torch.load(REFERENCE / "trm_att_rope.pt", weights_only=True)
    files = {"step_1": saved({**state, "x": Payload(marker)}), "all_config.yaml": run_config("trm_att_rope")}
    hub_server.add("owner/evil", files)
    with pytest.raises(hub.CheckpointError, match=r"step_1@\w{7}: refused to load: holds more than tensors"):
        hub.fetch("owner/evil")
    assert not marker.exists()


# ------------------------------------------------------------------------------------------------------ CLI


def test_solve_with_a_hub_model_then_from_the_cache_with_the_server_stopped(hub_server: HubServer) -> None:
    hub_server.add("owner/sudoku", published())
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the fixture's HF_ENDPOINT and HF_HOME
    command = [TRMSOLVE, "sudoku", EXAMPLES / "sudoku" / "collection.txt"]
    command += ["--model", "hf:owner/sudoku", "--max-steps", "1", "--json"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 1, first.stderr  # untrained weights: answers invalid, but solved
    assert len(hub_server.downloads()) == 2
    hub_server.stop()
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 1, second.stderr
    outputs = [[json.loads(line)["output"] for line in run.stdout.splitlines()] for run in (first, second)]
    assert len(outputs[0]) == 4 and outputs[0] == outputs[1]


def test_fetch_and_models_commands(hub_server: HubServer) -> None:
    from typer.testing import CliRunner

    from trmsolve.cli import app

    runner = CliRunner()
    hub_server.add("owner/runs", published(folder="run", step=100) | published(folder="run", step=200))
    several = runner.invoke(app, ["fetch", "owner/runs"])
    assert several.exit_code == 2
    assert several.stderr.startswith("error: hf:owner/runs@") and "pick one with --file PATH" in several.stderr
    fetched = runner.invoke(app, ["fetch", "owner/runs", "--file", "run/step_200", "--task", "sudoku", "--json"])
    assert fetched.exit_code == 0, fetched.output
    report = json.loads(fetched.stdout)
    assert report["model"] == "hf:owner/runs/run/step_200" and report["task"] == "sudoku"
    assert Path(report["path"]) == hub.fetch("owner/runs/run/step_200")
    hub_server.stop()
    listed = runner.invoke(app, ["models", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {row["name"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert rows["hf:owner/runs/run/step_200"]["where"] == "cached"
    assert rows["hf:owner/runs/run/step_200"]["path"] == report["path"]
    known = rows["hf:sapientinc/HRM-checkpoint-sudoku-extreme"]
    assert known["where"] == "hub (official)" and known["task"] == "sudoku" and known["path"] is None
    assert known["layout"] == "checkpoint + all_config.yaml"  # as tests/test_hub_layouts.py lays it out
