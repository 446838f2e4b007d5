"""``kit download``: a competition's files into ``data/<slug>/raw``, verified, or nothing at all.

Steps: fetch the zip into ``data/<slug>/download/`` (a partial one is resumed;
a complete one left by an interrupted run is reused) → check it is complete and
safe → extract into a temporary folder beside ``raw`` → check the layout
(``competition.check_layout``) → rename the folder to ``raw`` → write
``data/<slug>/download.json`` last. A crash at any step leaves either the old
state or the new one, never half of each.

>>> result = download(get_competition("galaxy-zoo-2"), Workspace.resolve(), labels=Path("gz2_hart16.csv.gz"))
>>> result.summary
'Downloaded galaxy-zoo-2: 243,437 files (2.9 GB) into data/galaxy-zoo-2/raw'
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kaggle_kit import __version__, kaggle_api
from kaggle_kit.archive import Members, extract, human_bytes, open_checked
from kaggle_kit.competitions import Competition
from kaggle_kit.errors import ConfigError, DataError
from kaggle_kit.fsutil import atomic_dir, write_json_atomic
from kaggle_kit.inventory import DOWNLOAD_MANIFEST
from kaggle_kit.paths import Workspace

DOWNLOAD_FOLDER = "download"
RESUME_MARKER_SUFFIX = ".kaggle-partial"  # the kaggle client's record of a partial download


@dataclass(frozen=True)
class DownloadResult:
    """``status``: "downloaded", "already" (nothing done) or "external" (raw files used in place)."""

    slug: str
    raw_dir: Path
    status: str
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        files, size = self.manifest.get("files", 0), human_bytes(self.manifest.get("bytes", 0))
        if self.status == "external":
            return f"{self.slug}: the raw files are used in place from {self.raw_dir}; nothing to download"
        if self.status == "already":
            return (f"{self.slug} is already downloaded in {self.raw_dir} ({files:,} files, {size}); "
                    "use --force to download it again")
        return f"Downloaded {self.slug}: {files:,} files ({size}) into {self.raw_dir}"


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
    for a competition with an ``add_labels`` hook (Galaxy Zoo 2: gz2_hart16.csv(.gz)).
    """
    slug = competition.slug
    raw = competition.raw_dir(workspace)
    _check_options(competition, dataset, labels)
    if competition.raw_is_external(workspace):
        return DownloadResult(slug, raw, "external")
    manifest_path = workspace.competition_dir(slug) / DOWNLOAD_MANIFEST
    if not force and manifest_path.is_file() and raw.is_dir():
        return DownloadResult(slug, raw, "already", json.loads(manifest_path.read_text(encoding="utf-8")))

    if from_zip is not None:
        archive, source = Path(from_zip), f"file:{Path(from_zip).resolve()}"
        members = open_checked(archive, refetch_hint="download the archive again by hand")
    else:
        archive, source, members = _fetch(competition, workspace, force, dataset, progress, retry)

    layout, folders = _install(competition, archive, members, raw, manifest_path, labels, progress)
    manifest = _manifest(slug, source, archive, folders, layout, labels)
    write_json_atomic(manifest_path, manifest)  # its presence means "downloaded and complete"
    if from_zip is None:
        archive.unlink()  # extracted and checked: the zip would only double the disk space used
        _remove_if_empty(archive.parent)
    return DownloadResult(slug, raw, "downloaded", manifest)


def _manifest(slug: str, source: str, archive: Path, folders: dict[str, tuple[int, int]],
              layout: dict[str, Any], labels: Path | None) -> dict[str, Any]:
    return {
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


def _check_options(competition: Competition, dataset: str | None, labels: Path | None) -> None:
    if dataset is not None and competition.source_kind != "dataset":
        raise ConfigError(f"--dataset applies to dataset-backed competitions only; {competition.slug} is a "
                          "Kaggle competition: drop --dataset")
    if dataset is not None:
        kaggle_api.split_dataset_ref(dataset)
    if labels is not None and competition.add_labels is None:
        raise ConfigError(f"--labels adds a label table missing from a competition's data; {competition.slug} "
                          "needs none: drop it")
    if labels is not None and not Path(labels).is_file():
        raise DataError(f"{labels} not found: pass the path of the label table")


def _fetch(competition: Competition, workspace: Workspace, force: bool, dataset: str | None,
           progress: bool, retry: kaggle_api.RetryPolicy | None) -> tuple[Path, str, Members]:
    """The verified zip in ``data/<slug>/download/``: reused if complete, resumed if partial, else fetched."""
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
            return zip_path, source, open_checked(zip_path, refetch_hint="")
        except DataError:
            _remove(zip_path, marker)  # left by an older, unverifiable attempt: fetch it again
    fetch()
    try:
        return zip_path, source, open_checked(zip_path, refetch_hint="re-run to download it again")
    except DataError:
        _remove(zip_path, marker)  # a complete transfer of a bad archive: never reuse it
        raise


def _install(competition: Competition, archive: Path, members: Members, raw: Path, manifest_path: Path,
             labels: Path | None, progress: bool) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
    """Extract into a temporary folder, check the layout there, then rename it to ``raw``."""
    raw.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(raw) as staging:
        extract(archive, members, staging, progress=progress)
        folders = _folder_sizes(members)
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


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _remove_if_empty(folder: Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
