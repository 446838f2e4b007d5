"""What is on disk for each competition: downloaded, prepared, runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from kaggle_kit.competitions import get_competition, list_competitions
from kaggle_kit.data.cache import MANIFEST
from kaggle_kit.paths import Workspace

DOWNLOAD_MANIFEST = "download.json"


@dataclass(frozen=True)
class CompetitionStatus:
    slug: str
    source: str
    task: str  # binary, multiclass, multilabel, regression
    metric: str
    downloaded: bool
    prepared: bool


def competition_status(workspace: Workspace) -> list[CompetitionStatus]:
    """One row per registered competition, in slug order."""
    rows = []
    for slug in list_competitions():
        competition = get_competition(slug)
        raw = competition.raw_dir(workspace)
        downloaded = (workspace.competition_dir(slug) / DOWNLOAD_MANIFEST).is_file() or (
            competition.raw_is_external(workspace) and raw.is_dir()
        )
        cache_root = workspace.cache_root(slug)
        prepared = cache_root.is_dir() and any(cache_root.glob(f"*/{MANIFEST}"))
        source = f"{competition.source_kind}:{competition.source_ref}"
        rows.append(CompetitionStatus(slug, source, competition.task.kind, competition.metric, downloaded, prepared))
    return rows


def render_competitions(rows: list[CompetitionStatus], fmt: str = "table") -> str:
    """``kit competitions``: slug, source, task kind, metric, downloaded and prepared (yes/no in a table), as ``fmt``."""
    from kaggle_kit.tables import column, render

    yes_no = {True: "yes", False: "no"}.get
    columns = [column("slug"), column("source"), column("task"), column("metric"), column("downloaded", text=yes_no),
               column("prepared", text=yes_no)]
    return render([asdict(row) for row in rows], fmt, keys=[f.name for f in fields(CompetitionStatus)],
                  columns=columns)
