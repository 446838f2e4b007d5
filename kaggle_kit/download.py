"""``kit download``: a competition's files into ``data/<slug>/raw``, verified, or nothing at all.

Steps, under a lock on ``data/<slug>/.download.lock`` (a second ``kit download``
of the competition waits, then finds it done): clear what an earlier, killed run
left (its hidden ``.raw.*.partial`` extraction folders: the lock proves nobody
is using them) → fetch the zip into ``data/<slug>/download/`` (a partial one is
resumed; a complete one left by an interrupted run is reused, and said so) →
check it is complete and safe → fetch a label table the data lacks, when the
competition has a ``fetch_labels`` hook and ``--labels`` gives none (Galaxy Zoo
2: the Hart et al. table, from the Galaxy Zoo data site) → extract into a
temporary folder beside ``raw`` (and the zips inside it, for a competition with
``nested_archives``, each checked the same way) → add the label table (``add_labels``) → check
the layout (``competition.check_layout``) → rename the folder to ``raw`` → write
``data/<slug>/download.json`` last. A crash at any step leaves either the old
state or the new one, never half of each. Nothing the user made is deleted: an
archive given with ``--from-zip`` inside the folder being replaced, or a ``raw``
folder kit did not install, is refused (``--force`` replaces the latter).

>>> result = download(get_competition("galaxy-zoo-2"), Workspace.resolve())
>>> result.summary
'Downloaded galaxy-zoo-2: 243,437 files (2.9 GB) into data/galaxy-zoo-2/raw'
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from kaggle_kit import __version__, kaggle_api
from kaggle_kit.archive import Members, extract, human_bytes, open_checked
from kaggle_kit.competitions import Competition
from kaggle_kit.errors import ConfigError, DataError
from kaggle_kit.fsutil import (
    atomic_dir, ensure_writable_folder, file_kind, locked, remove_stale_partials, write_json_atomic,
)
from kaggle_kit.inventory import DOWNLOAD_MANIFEST
from kaggle_kit.paths import Workspace

DOWNLOAD_FOLDER = "download"
LOCK_FILE = ".download.lock"
RESUME_MARKER_SUFFIX = ".kaggle-partial"  # the kaggle client's record of a partial download


@dataclass(frozen=True)
class DownloadResult:
    """``status``: "downloaded", "already" (nothing done) or "external" (raw files used in place).

    ``notes``: what else happened (a reused zip, leftovers cleared), one line each.
    """

    slug: str
    raw_dir: Path
    status: str
    manifest: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        files, size = self.manifest.get("files", 0), human_bytes(self.manifest.get("bytes", 0))
        if self.status == "external":
            line = f"{self.slug}: the raw files are used in place from {self.raw_dir}; nothing to download"
        elif self.status == "already":
            line = (f"{self.slug} is already downloaded in {self.raw_dir} ({files:,} files, {size}); "
                    "use --force to download it again")
        else:
            line = f"Downloaded {self.slug}: {files:,} files ({size}) into {self.raw_dir}"
        return "\n".join([*self.notes, line])


def download(
    competition: Competition,
    workspace: Workspace,
    *,
    force: bool = False,
    from_zip: Path | None = None,
    dataset: str | None = None,
    labels: Path | None = None,
    progress: bool = True,
    retry: kaggle_api.RetryPolicy | None = None,
) -> DownloadResult:
    """Download, verify and extract ``competition`` into its raw folder; a no-op when already there.

    ``from_zip``: an archive fetched by hand instead of the API. ``dataset``: another
    ``owner/slug`` for a dataset-backed competition. ``labels``: a label table the data lacks,
    for a competition with an ``add_labels`` hook (Galaxy Zoo 2: gz2_hart16.csv(.gz)), instead of
    the one its ``fetch_labels`` hook fetches from a public site.
    """
    slug = competition.slug
    raw = competition.raw_dir(workspace)
    _check_options(competition, dataset, labels)
    if competition.raw_is_external(workspace):
        return DownloadResult(slug, raw, "external")
    folder = workspace.competition_dir(slug)
    manifest_path = folder / DOWNLOAD_MANIFEST
    if not force and manifest_path.is_file() and raw.is_dir():  # the manifest is written atomically, last
        return DownloadResult(slug, raw, "already", _read_manifest(manifest_path))
    ensure_writable_folder(folder, "--data-dir")
    if from_zip is not None:
        _check_archive_survives(Path(from_zip), raw, folder)
    notes: list[str] = []
    with _one_at_a_time(folder, slug):
        notes += _clear_leftovers(folder)
        if not force and manifest_path.is_file() and raw.is_dir():  # done by the download we waited for
            return DownloadResult(slug, raw, "already", _read_manifest(manifest_path), tuple(notes))
        if not force:
            _check_raw_is_ours(raw, manifest_path)

        if from_zip is not None:
            archive, source = Path(from_zip), f"file:{Path(from_zip).resolve()}"
            members = open_checked(archive, refetch_hint="download the archive again by hand")
            damaged = "get the archive again (kit cannot repair it)"
        else:
            archive, source, members, reused = _fetch(competition, workspace, force, dataset, progress, retry)
            damaged = "the download was damaged: re-run with --force to fetch it again"
            if reused:
                notes.append(f"Reusing the complete {archive} left by an earlier run (--force fetches it again)")
        labels_source = None
        if labels is None and competition.fetch_labels is not None:
            # A table the data lacks (Galaxy Zoo 2's Hart et al. table): fetched from its public home first.
            fetched = competition.fetch_labels([info.filename for info in members.infos], folder / DOWNLOAD_FOLDER,
                                               progress=progress, retry=retry)
            if fetched is not None:
                labels, labels_source = fetched

        layout, folders = _install(competition, archive, members, raw, manifest_path, labels, progress, damaged)
        manifest = _manifest(slug, source, archive, folders, layout, None if labels_source else labels, labels_source)
        write_json_atomic(manifest_path, manifest)  # its presence means "downloaded and complete"
        if from_zip is None:
            archive.unlink()  # extracted and checked: the zip would only double the disk space used
        if labels_source is not None:
            Path(labels).unlink()  # copied into raw
        _remove_if_empty(folder / DOWNLOAD_FOLDER)
    return DownloadResult(slug, raw, "downloaded", manifest, tuple(notes))


def _manifest(slug: str, source: str, archive: Path, folders: dict[str, tuple[int, int]],
              layout: dict[str, Any], labels: Path | None, labels_source: str | None) -> dict[str, Any]:
    manifest = {
        "slug": slug,
        "source": source,
        "archive": archive.name,
        "archive_bytes": archive.stat().st_size,
        "files": sum(count for count, _ in folders.values()),
        "bytes": sum(size for _, size in folders.values()),
        "folders": {name: {"files": count, "bytes": size} for name, (count, size) in sorted(folders.items())},
        "layout": layout,
        "labels_file": str(labels) if labels else None,
        "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "kit_version": __version__,
    }
    if labels_source is not None:
        manifest["labels_source"] = labels_source  # where a fetched label table came from (no credentials)
    return manifest


def _check_options(competition: Competition, dataset: str | None, labels: Path | None) -> None:
    if dataset is not None and competition.source_kind != "dataset":
        raise ConfigError(f"--dataset applies to dataset-backed competitions only; {competition.slug} is a "
                          "Kaggle competition: drop --dataset")
    if dataset is not None:
        kaggle_api.split_dataset_ref(dataset)
    if labels is not None and competition.add_labels is None:
        raise ConfigError(f"--labels adds a label table missing from a competition's data; {competition.slug} "
                          "needs none: drop it")
    if labels is not None:
        kind = file_kind(Path(labels).stat().st_mode) if Path(labels).exists() else "missing"
        if kind is not None:
            raise DataError(f"{labels} is {'not found' if kind == 'missing' else kind}: pass the path of the "
                            "label table")


@contextlib.contextmanager
def _one_at_a_time(folder: Path, slug: str) -> Iterator[None]:
    """The competition's download lock; a second download says it waits, then waits."""
    with locked(folder / LOCK_FILE, wait=False) as free:
        if free:
            yield
            return
    _notice(f"Waiting for another kit download of {slug} to finish…")
    with locked(folder / LOCK_FILE):
        yield


def _check_archive_survives(archive: Path, raw: Path, folder: Path) -> None:
    """An archive inside ``raw`` (or another folder the install replaces or clears) would be deleted."""
    where = archive.resolve()
    doomed = [raw.resolve(), *(path.resolve() for pattern in (".*.partial", ".*.old") for path in folder.glob(pattern))]
    for target in doomed:
        if where == target or where.is_relative_to(target):
            raise DataError(
                f"--from-zip {archive} is inside {target}, which kit download replaces: move the archive out "
                f"first (e.g. into {folder}), then re-run"
            )


def _check_raw_is_ours(raw: Path, manifest_path: Path) -> None:
    """A ``raw`` folder with files but no manifest was not installed by kit: never replace it unasked."""
    if raw.is_dir() and any(raw.iterdir()):
        raise DataError(
            f"{raw} already holds files that kit download did not install (there is no {manifest_path.name}): "
            "use them as they are (kit prepare reads them), move them away, or re-run with --force to replace them"
        )


def _clear_leftovers(folder: Path) -> list[str]:
    """Remove what killed runs left beside raw (hidden ``.raw.*.partial`` extractions, up to the
    archive's size). Call with the download lock held: then no download of this competition is
    running, so every leftover is provably stale."""
    removed = remove_stale_partials(folder)
    return [f"Removed {len(removed)} leftover(s) of an interrupted download from {folder}"] if removed else []


def _fetch(competition: Competition, workspace: Workspace, force: bool, dataset: str | None,
           progress: bool, retry: kaggle_api.RetryPolicy | None) -> tuple[Path, str, Members, bool]:
    """The verified zip in ``data/<slug>/download/`` and whether it was reused: reused if complete,
    resumed if partial, else fetched."""
    folder = workspace.competition_dir(competition.slug) / DOWNLOAD_FOLDER
    if competition.source_kind == "dataset":
        ref = dataset or competition.source_ref
        zip_path, source = folder / f"{kaggle_api.split_dataset_ref(ref)[1]}.zip", f"dataset:{ref}"
        fetch = lambda: kaggle_api.download_dataset_zip(ref, folder, progress=progress, retry=retry)  # noqa: E731
    else:
        ref = competition.source_ref
        zip_path, source = folder / f"{ref}.zip", f"competition:{ref}"
        fetch = lambda: kaggle_api.download_competition_zip(ref, folder, progress=progress, retry=retry)  # noqa: E731
    marker = zip_path.with_name(zip_path.name + RESUME_MARKER_SUFFIX)
    if force:
        _remove(zip_path, marker)
    elif zip_path.is_file() and not marker.exists():
        try:
            return zip_path, source, open_checked(zip_path, refetch_hint=""), True
        except DataError:
            _remove(zip_path, marker)  # left by an older, unverifiable attempt: fetch it again
    fetch()
    try:
        return zip_path, source, open_checked(zip_path, refetch_hint="re-run to download it again"), False
    except DataError:
        _remove(zip_path, marker)  # a complete transfer of a bad archive: never reuse it
        raise


def _install(competition: Competition, archive: Path, members: Members, raw: Path, manifest_path: Path,
             labels: Path | None, progress: bool, damaged: str) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
    """Extract into a temporary folder, check the layout there, then rename it to ``raw``."""
    with atomic_dir(raw) as staging:
        extract(archive, members, staging, progress=progress, damaged_hint=damaged)
        folders = _folder_sizes(members)
        if competition.nested_archives:
            _extract_nested(archive, staging, progress)
            folders = _tree_sizes(staging)
        if labels is not None:
            name = competition.add_labels(Path(labels), staging)
            folders[name] = (1, (staging / name).stat().st_size)
        try:
            layout = competition.check_layout(staging)
        except DataError as exc:
            # The staging folder is about to vanish: name paths inside the archive instead.
            inside = str(exc).replace(f"{staging}{os.sep}", "").replace(str(staging), "its root")
            raise DataError(f"archive {archive}: {inside}") from None
        # The old manifest must not outlive the old files it describes.
        manifest_path.unlink(missing_ok=True)
    return layout, folders


def _folder_sizes(members: Members) -> dict[str, tuple[int, int]]:
    """(files, bytes) per top-level entry of the archive (sizes the CRC check has confirmed)."""
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for info in members.infos:
        if not info.is_dir():
            top = info.filename.replace("\\", "/").split("/", 1)[0]
            counts[top] += 1
            sizes[top] += info.file_size
    return {name: (counts[name], sizes[name]) for name in counts}


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a damaged manifest only loses the counts in the "already downloaded" line
    return value if isinstance(value, dict) else {}


def _notice(text: str) -> None:
    """One line on stderr while kit waits (like a progress bar, it is not output)."""
    print(text, file=sys.stderr, flush=True)


def _extract_nested(archive: Path, staging: Path, progress: bool) -> None:
    """The archives inside the archive (``train.zip``…): each checked like the download itself,
    extracted beside itself, then removed (the files are what the competition needs)."""
    hint = "the download holds a damaged inner archive: re-run with --force"
    for inner in sorted(staging.glob("*.zip")):
        try:
            extract(inner, open_checked(inner, refetch_hint=hint), staging, progress=progress, damaged_hint=hint)
        except DataError as exc:
            # The staging folder is about to vanish: name the inner archive by its place in the download.
            raise DataError(f"archive {archive}: {str(exc).replace(f'{staging}{os.sep}', '')}") from None
        inner.unlink()


def _tree_sizes(root: Path) -> dict[str, tuple[int, int]]:
    """(files, bytes) per top-level entry of an extracted folder."""
    sizes: dict[str, tuple[int, int]] = {}
    for entry in root.iterdir():
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        sizes[entry.name] = (len(files), sum(p.stat().st_size for p in files))
    return sizes


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _remove_if_empty(folder: Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
