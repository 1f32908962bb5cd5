"""Models from the Hugging Face Hub: `hf:OWNER/REPO[/PATH][@REVISION]`.

Everything goes through huggingface_hub, so its cache (HF_HOME, HF_HUB_CACHE), token (HF_TOKEN, `hf auth login`),
endpoint (HF_ENDPOINT), offline mode (HF_HUB_OFFLINE=1) and progress bars work as they do for any Hub library.
PATH is a folder or a file inside the repo; REVISION a branch, tag or commit (default: main). The revision is
resolved to a commit once and every file is then fetched at that commit, so a model never mixes two versions.

A repo holds our layout (config.json + model.safetensors [+ identifiers.json]) or the published training code's:
a state dict (`step_N`, `checkpoint`, `*.pt`, `*.safetensors`, ...) with the run's `all_config.yaml` in its folder
or above. Ours is used straight from the snapshot. A published checkpoint is converted once, next to the download:

    <HF_HUB_CACHE>/models--OWNER--REPO/trmsolve-converted/<commit>/<path of the checkpoint>/

so the conversion is pinned to the commit it came from and goes away with the repo (`hf cache rm`).

Only the files a model needs are downloaded, never code, and nothing but tensors is unpickled. Each download is
checked against the Hub's listing: size, and sha256 for LFS files or the git blob id for the others (on top of
huggingface_hub's own size check, which does not hash).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from huggingface_hub import HfApi, constants, hf_hub_download, scan_cache_dir, try_to_load_from_cache
from huggingface_hub.errors import (
    CacheNotFound,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    RevisionResolutionError,
)
from huggingface_hub.file_download import repo_folder_name

from trmsolve.checkpoint import (
    CONFIG_FILE,
    IDENTIFIERS_FILE,
    RUN_CONFIG,
    WEIGHTS_FILE,
    convert,
    load_model_dir,
    load_published,
    read_config,
    run_config_among,
)
from trmsolve.errors import (
    CheckpointError,
    HubAccessError,
    HubError,
    HubNotFoundError,
    HubOfflineError,
    HubTransferError,
)
from trmsolve.network import RecursiveReasoningModel

CONVERTED = "trmsolve-converted"
CHECKPOINT_NAME = re.compile(r"(?:^|[_-])step_\d+$|^checkpoint$|\.(?:pt|pth|ckpt|bin|safetensors)$")
NAME_PART = r"[A-Za-z0-9](?:[\w.-]*[A-Za-z0-9])?"
REPO_ID = re.compile(rf"{NAME_PART}/{NAME_PART}")
LISTED = 8  # names shown in a message before "and N more"


# ------------------------------------------------------------------------------------------------ references


@dataclass(frozen=True)
class HubRef:
    """What `hf:OWNER/REPO[/PATH][@REVISION]` names."""

    repo_id: str
    path: str = ""
    revision: str | None = None

    def __str__(self) -> str:
        path = f"/{self.path}" if self.path else ""
        return f"{self.repo_id}{path}" + (f"@{self.revision}" if self.revision else "")


def parse_spec(text: str, *, revision: str | None = None, file: str | None = None) -> HubRef:
    """Parse `OWNER/REPO[/PATH][@REVISION]` (without `hf:`); `file` is taken relative to PATH, and `revision`
    must agree with an `@REVISION` in the text."""
    text = text.strip().removeprefix("hf:")
    name, _, at = text.partition("@")
    parts = [p for p in name.strip("/").split("/") if p]
    repo_id = "/".join(parts[:2])
    if len(parts) < 2 or not REPO_ID.fullmatch(repo_id):
        raise HubError(f"hf:{text}: not a Hub model; write hf:OWNER/REPO[/PATH][@REVISION]")
    if at and revision and at != revision:
        raise HubError(f"hf:{text}: two revisions given ({at} and {revision}); give one")
    path = "/".join(parts[2:] + [p for p in (file or "").split("/") if p])
    if any(p in (".", "..") for p in path.split("/")):
        raise HubError(f"hf:{text}: a path inside the repo cannot contain . or ..")
    return HubRef(repo_id, path, at or revision or None)


# -------------------------------------------------------------------------------------------- finding models


@dataclass(frozen=True)
class Candidate:
    """A model in a repo: a folder in our layout, or a published checkpoint file."""

    path: str  # the folder (ours, "" for the root) or the checkpoint file (published)
    layout: Literal["trmsolve", "published"]
    files: tuple[str, ...]  # what to download, weights first
    run_config: str | None = None  # published: the all_config.yaml that goes with it


def natural_key(text: str) -> list[Any]:
    """step_900 before step_1000."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def find_models(files: Collection[str], scope: str = "") -> list[Candidate]:
    """The models among `files` (paths in a repo) at or below `scope`, a folder or a file named directly."""
    ours = {
        posixpath.dirname(f)
        for f in files
        if posixpath.basename(f) == CONFIG_FILE and posixpath.join(posixpath.dirname(f), WEIGHTS_FILE) in files
    }
    if scope in files:  # a file named directly: taken as a checkpoint whatever its name
        folder, name = posixpath.split(scope)
        if folder in ours and name in (CONFIG_FILE, WEIGHTS_FILE):
            return [_ours(folder, files)]
        return [_published(scope, files)]
    prefix = f"{scope}/" if scope else ""
    found = [_ours(d, files) for d in ours if d == scope or d.startswith(prefix)]
    found += [
        _published(f, files)
        for f in files
        if f.startswith(prefix) and posixpath.dirname(f) not in ours and CHECKPOINT_NAME.search(posixpath.basename(f))
    ]
    return sorted(found, key=lambda c: natural_key(c.path))


def _ours(folder: str, files: Collection[str]) -> Candidate:
    names = [posixpath.join(folder, n) for n in (WEIGHTS_FILE, CONFIG_FILE, IDENTIFIERS_FILE)]
    return Candidate(folder, "trmsolve", tuple(n for n in names if n in files))


def _published(path: str, files: Collection[str]) -> Candidate:
    """The checkpoint with its run config: in its folder (`run_config_among`), else the closest all_config.yaml
    above."""
    folder = posixpath.dirname(path)
    beside = run_config_among(posixpath.basename(f) for f in files if posixpath.dirname(f) == folder)
    if beside is not None:
        config = posixpath.join(folder, beside)
        return Candidate(path, "published", (path, config), config)
    while folder:
        folder = posixpath.dirname(folder)
        config = posixpath.join(folder, RUN_CONFIG)
        if config in files:
            return Candidate(path, "published", (path, config), config)
    return Candidate(path, "published", (path,))


# ------------------------------------------------------------------------------------------- repo snapshots


@dataclass(frozen=True)
class RemoteFile:
    """Size and hash of a file as the Hub lists it."""

    size: int | None
    sha256: str | None = None  # LFS files
    blob_id: str | None = None  # the git object id, checked for files outside LFS


@dataclass(frozen=True)
class Snapshot:
    """The files of a repo at one commit: all of them as the Hub lists them, or only what is cached when offline."""

    repo_id: str
    commit: str
    files: dict[str, RemoteFile | None]
    online: bool


def storage_dir(repo_id: str) -> Path:
    """The repo's folder in the Hugging Face cache."""
    cache = Path(constants.HF_HUB_CACHE).expanduser().resolve()
    return cache / repo_folder_name(repo_id=repo_id, repo_type="model")


def converted_dir(repo_id: str, commit: str, path: str) -> Path:
    """Where the conversion of the published checkpoint `path` at `commit` lives."""
    return storage_dir(repo_id) / CONVERTED / commit / path


def _cached_files(repo_id: str, commit: str) -> dict[str, RemoteFile | None]:
    """Repo files cached at `commit`: the snapshot's, plus checkpoints whose conversion is kept."""
    snapshot = storage_dir(repo_id) / "snapshots" / commit
    converted = converted_dir(repo_id, commit, "")
    files: dict[str, RemoteFile | None] = {
        p.relative_to(snapshot).as_posix(): None for p in snapshot.rglob("*") if p.is_file()
    }
    files.update(
        {
            p.parent.relative_to(converted).as_posix(): None
            for p in converted.rglob(CONFIG_FILE)
            if ".partial-" not in p.parent.name
        }
    )
    return files


def _snapshot(ref: HubRef) -> Snapshot:
    """Resolve the revision to a commit and list the repo there; from the cache when the Hub is out of reach."""
    api = HfApi()
    offline = constants.is_offline_mode()
    try:
        commit = api.resolve_revision(ref.repo_id, revision=ref.revision, local_files_only=offline).resolved
    except RevisionResolutionError:
        raise offline_error(ref) from None
    if not offline:
        try:
            info = api.model_info(ref.repo_id, revision=commit, files_metadata=True)
        except Exception as exc:
            if not _unreachable(exc):
                raise
        else:
            files = {
                s.rfilename: RemoteFile(s.lfs.size, s.lfs.sha256) if s.lfs else RemoteFile(s.size, blob_id=s.blob_id)
                for s in info.siblings or []
            }
            return Snapshot(ref.repo_id, commit, files, online=True)
    return Snapshot(ref.repo_id, commit, _cached_files(ref.repo_id, commit), online=False)


def _unreachable(exc: BaseException) -> bool:
    """Errors that mean the Hub is out of reach rather than an answer from it (as huggingface_hub decides)."""
    import httpx2

    if isinstance(exc, HfHubHTTPError):
        return exc.response.status_code >= 500
    return isinstance(exc, (OfflineModeIsEnabled, httpx2.TransportError)) and not isinstance(exc, httpx2.ProxyError)


def _choose(ref: HubRef, snapshot: Snapshot) -> Candidate:
    found = find_models(snapshot.files, ref.path)
    if len(found) == 1:
        return found[0]
    where = f"hf:{HubRef(ref.repo_id, ref.path, snapshot.commit[:7])}"
    if not snapshot.online:
        if not found:
            raise offline_error(ref)
    elif not found:
        names = _listed(sorted(snapshot.files, key=natural_key))
        if ref.path and not any(f.startswith(f"{ref.path}/") for f in snapshot.files):
            raise HubNotFoundError(f"{where}: no file or folder {ref.path} in {ref.repo_id}; it has: {names}")
        raise HubError(
            f"{where}: no model here: expected config.json + model.safetensors (trmsolve) or a checkpoint "
            f"(step_N, checkpoint, *.pt) with all_config.yaml; files: {names}"
        )
    raise HubError(
        f"{where}: {len(found)} checkpoints: {_listed([c.path or '.' for c in found])}; "
        f"pick one with --file PATH (or --model hf:{ref.repo_id}/PATH)"
    )


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - LISTED} more" if len(names) > LISTED else ""
    return ", ".join(names[:LISTED]) + more if names else "none"


# ---------------------------------------------------------------------------------------------- downloading


def _download(snapshot: Snapshot, paths: Collection[str]) -> list[Path]:
    """Fetch `paths` at the snapshot's commit (from the cache when there), checking each new download."""
    local = []
    for path in paths:
        cached = try_to_load_from_cache(snapshot.repo_id, path, revision=snapshot.commit)
        file = Path(hf_hub_download(snapshot.repo_id, path, revision=snapshot.commit))
        remote = snapshot.files.get(path)
        if not isinstance(cached, str) and remote is not None:
            _verify(file, remote, f"hf:{HubRef(snapshot.repo_id, path, snapshot.commit[:7])}")
        local.append(file)
    return local


def _verify(file: Path, remote: RemoteFile, label: str) -> None:
    """Compare a downloaded file with the Hub's listing; a mismatch is removed from the cache, so a retry fetches
    it afresh."""
    size = file.stat().st_size
    problem = None
    if remote.size is not None and size != remote.size:
        problem = f"{size} bytes, the Hub lists {remote.size}"
    elif remote.sha256 or remote.blob_id:
        digest = hashlib.sha256() if remote.sha256 else hashlib.sha1(b"blob %d\0" % size)
        with file.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        expected = remote.sha256 or remote.blob_id
        if digest.hexdigest() != expected:
            kind = "sha256" if remote.sha256 else "git blob id"
            problem = f"{kind} {digest.hexdigest()[:12]}..., the Hub lists {expected[:12]}..."
    if problem:
        blob = file.resolve()
        file.unlink()
        blob.unlink(missing_ok=True)
        raise HubTransferError(
            f"{label}: the download does not match the Hub ({problem}); removed it, run the command again"
        )


def _provenance(snapshot: Snapshot, candidate: Candidate, revision: str | None) -> dict[str, Any]:
    remote = snapshot.files.get(candidate.files[0])
    return {
        "hub_repo": snapshot.repo_id,
        "hub_revision": revision or constants.DEFAULT_REVISION,
        "hub_commit": snapshot.commit,
        "hub_path": candidate.path,
        **({"sha256": remote.sha256} if remote is not None and remote.sha256 else {}),
    }


def _prepare(snapshot: Snapshot, candidate: Candidate, task: str | None, revision: str | None) -> Path:
    """Our-format folder for `candidate`: the snapshot folder, or the published checkpoint converted once."""
    if candidate.layout == "trmsolve":
        return _download(snapshot, candidate.files)[0].parent
    out = converted_dir(snapshot.repo_id, snapshot.commit, candidate.path)
    if (out / CONFIG_FILE).exists() and (task is None or read_config(out)[1].task == task):
        return out
    if candidate.run_config is None:
        raise HubError(
            f"hf:{HubRef(snapshot.repo_id, candidate.path, snapshot.commit[:7])}: no {RUN_CONFIG} beside it "
            "or above it in the repo; pass the run's config with --config"
        )
    weights, run_config = _download(snapshot, candidate.files)
    partial = out.with_name(f"{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        convert(weights, partial, config=run_config, task=task, provenance=_provenance(snapshot, candidate, revision))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)  # a conversion for another task
    partial.rename(out)
    return out


@contextmanager
def _translated(ref: HubRef) -> Iterator[None]:
    """huggingface_hub's exceptions as one-line errors that say what to do; cache paths in checkpoint errors as
    `hf:` names."""
    label = f"hf:{ref}"
    try:
        yield
    except HubError:
        raise
    except GatedRepoError:
        raise HubAccessError(
            f"{label}: the repo is gated: request access at {constants.ENDPOINT}/{ref.repo_id}, then use a token "
            "of an account that has it (`hf auth login` or HF_TOKEN)"
        ) from None
    except RepositoryNotFoundError:
        raise HubNotFoundError(
            f"{label}: no repository {ref.repo_id} on {constants.ENDPOINT} (check the name; a private repo "
            "needs `hf auth login` or HF_TOKEN)"
        ) from None
    except RevisionNotFoundError:
        raise HubNotFoundError(f"{label}: {ref.repo_id} has no branch, tag or commit {ref.revision}") from None
    except RemoteEntryNotFoundError as exc:
        raise HubNotFoundError(f"{label}: the Hub has no {exc.response.url}") from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        raise offline_error(ref) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise HubAccessError(
                f"{label}: the Hub refused access (HTTP {status}); log in with `hf auth login` or set HF_TOKEN"
            ) from None
        raise HubError(f"{label}: the Hub answered HTTP {status}; try again later") from None
    except CheckpointError as exc:
        snapshots = re.escape(str(storage_dir(ref.repo_id) / "snapshots")) + r"/([0-9a-f]{40})/([^:]+)"
        message = re.sub(snapshots, lambda m: f"hf:{HubRef(ref.repo_id, m[2], m[1][:7])}", str(exc))
        raise type(exc)(message) from None
    except Exception as exc:
        # A transfer that broke off: huggingface_hub's size check (OSError) or a connection lost for good.
        if not (isinstance(exc, OSError) and "Consistency check failed" in str(exc)) and not _unreachable(exc):
            raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HubTransferError(f"{label}: the download broke off ({reason}); run the command again") from None


# ---------------------------------------------------------------------------------------------------- public


def fetch(repo: str, *, revision: str | None = None, file: str | None = None, task: str | None = None) -> Path:
    """Download a model (`OWNER/REPO[/PATH][@REVISION]`) into the cache and return its folder in our format,
    pinned to the commit the revision resolved to. Works offline for what is cached."""
    ref = parse_spec(repo, revision=revision, file=file)
    with _translated(ref):
        snapshot = _snapshot(ref)
        return _prepare(snapshot, _choose(ref, snapshot), task, ref.revision)


def load_hub_model(
    spec: str, *, config: str | Path | dict[str, Any] | None = None, task: str | None = None
) -> RecursiveReasoningModel:
    """Load `OWNER/REPO[/PATH][@REVISION]`. With `config`, a published checkpoint is read with that run config
    (for repos without all_config.yaml) instead of the cached conversion."""
    ref = parse_spec(spec)
    with _translated(ref):
        snapshot = _snapshot(ref)
        candidate = _choose(ref, snapshot)
        if config is None or candidate.layout == "trmsolve":
            model = load_model_dir(_prepare(snapshot, candidate, task, ref.revision))
        else:
            model = load_published(_download(snapshot, candidate.files[:1])[0], config=config, task=task)
    model.info.provenance.update(_provenance(snapshot, candidate, ref.revision))
    return model


def offline_error(ref: HubRef) -> HubOfflineError:
    """Say why the Hub is out of reach and what can be used instead."""
    why = (
        "offline mode is on (HF_HUB_OFFLINE=1)"
        if constants.is_offline_mode()
        else f"cannot reach the Hub at {constants.ENDPOINT}"
    )
    cached = cached_models()
    same = [m for m in cached if m.repo_id == ref.repo_id]
    if same:
        have = f"cached from this repo: {_listed([m.spec for m in same])}"
    elif cached:
        have = f"cached: {_listed([m.spec for m in cached])}"
    else:
        have = "nothing from the Hub is cached yet"
    return HubOfflineError(f"hf:{ref}: {why}, and it is not in the cache ({have})")


@dataclass(frozen=True)
class CachedModel:
    """A model found in the Hugging Face cache."""

    repo_id: str
    commit: str
    refs: tuple[str, ...]
    path: str
    layout: str
    local: Path | None  # our-format folder; None for a published checkpoint not converted yet
    task: str | None

    @property
    def spec(self) -> str:
        """The `hf:` name that loads it, offline too."""
        revision = self.refs[0] if self.refs else self.commit
        return f"hf:{HubRef(self.repo_id, self.path, None if revision == 'main' else revision)}"


def cached_models() -> list[CachedModel]:
    """TRM/HRM models in the Hugging Face cache (no network): ours, and published checkpoints with their run config
    or a conversion."""
    try:
        cache = scan_cache_dir(constants.HF_HUB_CACHE)
    except CacheNotFound:
        return []
    found = []
    for repo in sorted(cache.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        for revision in sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True):
            commit = revision.commit_hash
            for candidate in find_models(_cached_files(repo.repo_id, commit)):
                local = (
                    storage_dir(repo.repo_id) / "snapshots" / commit / candidate.path
                    if candidate.layout == "trmsolve"
                    else converted_dir(repo.repo_id, commit, candidate.path)
                )
                ready = (local / CONFIG_FILE).exists()
                if not ready and candidate.run_config is None:
                    continue  # a weights file with nothing saying it is a TRM/HRM run
                try:
                    task = read_config(local)[1].task if ready else None
                except CheckpointError:
                    continue  # a config.json that is not ours: some other library's model
                refs = tuple(sorted(revision.refs, key=lambda r: (r != "main", r)))
                found.append(
                    CachedModel(
                        repo.repo_id, commit, refs, candidate.path, candidate.layout, local if ready else None, task
                    )
                )
    return found
