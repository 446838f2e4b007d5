"""``kit demo``: the whole loop on the built-in competitions, offline, in a few minutes.

>>> result = demo(size="full", keep=None, report=print)
>>> result.scores
{'histopathologic-cancer-detection': 0.97, 'galaxy-zoo-2': 0.93}

Each competition is generated (``generators.py``; ``task_generators.py`` for the
five that ``--all`` adds), served by the project's stand-in Kaggle server on
127.0.0.1 and downloaded from it with the real ``kaggle`` client, then prepared,
trained, predicted and submitted by the same functions the ``kit`` commands call.
Kaggle-scored submissions are uploaded to the stand-in, which scores them against
the generated hidden answers with the competition's metric, as Kaggle does; the
code competitions (cactus, APTOS) take no API upload, so their file is scored as
Kaggle scores a notebook's ``submission.csv``; Galaxy Zoo 2 is scored locally and
ranked on its leaderboard.
Library code: progress and results go to ``report``, one line at a time.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from kaggle_kit.errors import ConfigError

CANCER = "histopathologic-cancer-detection"
GALAXY = "galaxy-zoo-2"
CACTUS = "aerial-cactus-identification"
DOGS = "dog-breed-identification"
APTOS = "aptos2019-blindness-detection"
PLANT = "plant-pathology-2020-fgvc7"
GALAXY_CHALLENGE = "galaxy-zoo-the-galaxy-challenge"
TASK_COMPETITIONS = (CACTUS, DOGS, APTOS, PLANT, GALAXY_CHALLENGE)  # what --all adds: one per task kind and layout
GENERATED = "generated"  # under the demo folder: what the stand-in server serves
Report = Callable[[str], None]
Scorer = Callable[[str, bytes], "tuple[str, str]"]  # (competition, uploaded CSV) → (public, private) score


@dataclass(frozen=True)
class DemoSize:
    """How much data and training one demo size uses."""

    cancer_train: int
    cancer_test: int
    galaxies: int
    unreadable: int
    # Training overrides per competition, on top of its default recipe.
    training: dict[str, dict[str, Any]] = field(default_factory=dict)
    # --all: (train images, test images, image size, writer options) per task-kind competition.
    generated: dict[str, tuple[int, int, int, dict[str, Any]]] = field(default_factory=dict)


# The default model family at a demo width, its options pinned so the demo's timing and scores do not
# drift with the model's defaults: a few seconds per epoch on 2 cores.
DEMO_MODEL = {"model": "kit-resnet", "model_options": {"width": 16, "stages": 3, "depth": 1, "stem_stride": 4}}
SIZES = {
    # What a new user runs: metrics far above chance in well under 3 minutes on 2 cores.
    "full": DemoSize(
        cancer_train=2400,
        cancer_test=400,
        galaxies=640,
        unreadable=3,
        training={
            CANCER: {**DEMO_MODEL, "image_size": 64, "epochs": 6, "batch_size": 64, "lr": 3e-3,
                     "warmup_epochs": 0, "early_stopping_patience": 0},
            GALAXY: {**DEMO_MODEL, "image_size": 64, "epochs": 8, "batch_size": 32, "lr": 3e-3,
                     "warmup_epochs": 0, "early_stopping_patience": 0},
            CACTUS: {**DEMO_MODEL, "image_size": 32, "epochs": 6, "batch_size": 64, "lr": 3e-3,
                     "model_options": {**DEMO_MODEL["model_options"], "stem_stride": 1}, "warmup_epochs": 0},
            DOGS: {**DEMO_MODEL, "image_size": 48, "epochs": 10, "batch_size": 32, "lr": 3e-3, "warmup_epochs": 0,
                   "label_smoothing": 0.0},
            APTOS: {**DEMO_MODEL, "image_size": 64, "epochs": 8, "batch_size": 32, "lr": 3e-3, "warmup_epochs": 0},
            PLANT: {**DEMO_MODEL, "image_size": 64, "epochs": 8, "batch_size": 32, "lr": 3e-3, "warmup_epochs": 0},
            GALAXY_CHALLENGE: {**DEMO_MODEL, "image_size": 48, "epochs": 8, "batch_size": 32, "lr": 3e-3,
                               "warmup_epochs": 0},
        },
        generated={
            CACTUS: (1600, 400, 32, {}),
            DOGS: (1200, 240, 64, {"breeds": 12}),
            APTOS: (800, 200, 96, {}),
            PLANT: (800, 200, 96, {}),
            GALAXY_CHALLENGE: (640, 160, 96, {}),
        },
    ),
    # The test suite's end-to-end run: every step, tiny data, one epoch.
    "small": DemoSize(
        cancer_train=96,
        cancer_test=24,
        galaxies=60,
        unreadable=2,
        training={
            CANCER: {**DEMO_MODEL, "image_size": 32, "epochs": 1, "batch_size": 32, "warmup_epochs": 0,
                     "early_stopping_patience": 0},
            GALAXY: {**DEMO_MODEL, "image_size": 32, "epochs": 1, "batch_size": 16, "warmup_epochs": 0,
                     "early_stopping_patience": 0},
            **{slug: {**DEMO_MODEL, "image_size": 24, "crop": 1.0, "epochs": 1, "batch_size": 16, "warmup_epochs": 0,
                      "early_stopping_patience": 0} for slug in TASK_COMPETITIONS},
        },
        generated={
            CACTUS: (48, 12, 32, {}),
            DOGS: (48, 12, 32, {"breeds": 4}),
            APTOS: (48, 12, 32, {}),
            PLANT: (48, 12, 36, {}),
            GALAXY_CHALLENGE: (48, 12, 32, {}),
        },
    ),
}


@dataclass(frozen=True)
class CompetitionResult:
    slug: str
    metric: str
    validation_score: float
    submission: Path
    test_score: float | None  # the stand-in's public score, or the local leaderboard's


@dataclass(frozen=True)
class DemoResult:
    folder: Path | None  # None when the demo folder was temporary and is gone
    seconds: float
    competitions: list[CompetitionResult]

    @property
    def scores(self) -> dict[str, float]:
        return {c.slug: c.validation_score for c in self.competitions}


def demo(size: str = "full", keep: str | Path | None = None, *, report: Report, progress: bool = False,
         every: bool = False) -> DemoResult:
    """Run the demo competitions in ``keep`` (kept) or in a temporary folder (removed at the end).

    ``every``: the five task-kind competitions too (``kit demo --all``).
    """
    if size not in SIZES:
        raise ConfigError(f"unknown demo size '{size}'; choose one of: {', '.join(SIZES)}")
    started = time.monotonic()
    # Seven models in one process trip TensorFlow's retracing hint, which is about speed, not results.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    with _demo_folder(keep) as folder:
        where = f"in {folder}" if keep else f"in a temporary folder ({folder}, removed at the end; keep it with --keep DIR)"
        count = "seven" if every else "two"
        report(f"kit demo ({size}): {count} generated competitions, no network, no Kaggle account, {where}")
        results = run_demo(folder, SIZES[size], report=report, progress=progress, every=every)
    seconds = time.monotonic() - started
    report(f"Done in {_duration(seconds)}.")
    return DemoResult(Path(keep) if keep else None, seconds, results)


@contextlib.contextmanager
def _demo_folder(keep: str | Path | None) -> Iterator[Path]:
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="kit-demo-") as tmp:
            yield Path(tmp)
        return
    folder = Path(keep)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(f"--keep {folder} exists and is not an empty folder; pass a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    yield folder


def run_demo(folder: Path, size: DemoSize, *, report: Report, progress: bool = False,
             every: bool = False) -> list[CompetitionResult]:
    """Generate, serve, download, prepare, train, predict and submit the competitions under ``folder``."""
    from kaggle_kit.competitions import galaxy
    from kaggle_kit.paths import Workspace
    from kaggle_kit.standin import serve_locally
    from kaggle_kit.standin.server import HART16_URL

    generated = folder / GENERATED
    workspace = Workspace(data_dir=folder / "data", runs_dir=folder / "runs", submissions_dir=folder / "submissions")
    sources = generate(generated, size, report)
    served = {CANCER: sources[CANCER]}
    solutions = {CANCER: sources["solution"]}
    if every:
        extra = generate_task_competitions(generated, size, report)
        served.update({slug: raw for slug, (raw, _) in extra.items()})
        solutions.update({slug: solution for slug, (_, solution) in extra.items()})
    scorers = {slug: metric_scorer(slug, path) for slug, path in solutions.items()}
    with serve_locally(competitions=served, datasets={galaxy.DATASET: sources[GALAXY]},
                       scorer=dispatching_scorer(scorers), site_files={HART16_URL: sources["hart16"]}) as server:
        report(f"Stand-in Kaggle server on {server.url}, reached by the real kaggle client; the Galaxy Zoo "
               "data site's stand-in serves the Hart et al. table")
        results = [
            run_competition(CANCER, workspace, size, report, progress),
            run_competition(GALAXY, workspace, size, report, progress),
        ]
        if every:
            results += [run_competition(slug, workspace, size, report, progress, scorer=scorers[slug])
                        for slug in TASK_COMPETITIONS]
        return results


def generate(generated: Path, size: DemoSize, report: Report) -> dict[str, Path]:
    """Write both raw competitions; the hidden cancer labels and the Hart table go beside them."""
    from kaggle_kit.demo.generators import write_cancer_competition, write_galaxy_dataset

    started = time.monotonic()
    cancer = write_cancer_competition(generated / CANCER, size.cancer_train, size.cancer_test, seed=0,
                                      solution_path=generated / "cancer-solution.csv")
    # The Kaggle dataset lacks the Hart et al. table: kit download fetches it from the Galaxy Zoo data site.
    galaxy = write_galaxy_dataset(generated / GALAXY, size.galaxies, seed=0, unreadable=size.unreadable,
                                  hart16_path=generated / "gz2_hart16.csv.gz")
    report(f"Generated {size.cancer_train:,} + {size.cancer_test:,} tissue patches and {size.galaxies:,} galaxies "
           f"({size.unreadable} unreadable) in {_duration(time.monotonic() - started)}")
    return {CANCER: cancer, GALAXY: galaxy, "solution": generated / "cancer-solution.csv",
            "hart16": generated / "gz2_hart16.csv.gz"}


def generate_task_competitions(generated: Path, size: DemoSize, report: Report) -> dict[str, tuple[Path, Path]]:
    """Write the five task-kind competitions; each one's hidden test answers go beside it."""
    from kaggle_kit.demo import task_generators

    writers = {
        CACTUS: task_generators.write_cactus_competition,
        DOGS: task_generators.write_dog_breed_competition,
        APTOS: task_generators.write_aptos_competition,
        PLANT: task_generators.write_plant_pathology_competition,
        GALAXY_CHALLENGE: task_generators.write_galaxy_challenge,
    }
    started = time.monotonic()
    written = {}
    for slug in TASK_COMPETITIONS:
        n_train, n_test, image_size, options = size.generated[slug]
        solution = generated / f"{slug}-solution.csv"
        raw = writers[slug](generated / slug, n_train, n_test, seed=0, image_size=image_size,
                            solution_path=solution, **options)
        written[slug] = (raw, solution)
    images = sum(n_train + n_test for n_train, n_test, _, _ in size.generated.values())
    report(f"Generated {images:,} images of five more competitions (cactus tiles, dogs, retinas, leaves, galaxies) "
           f"in {_duration(time.monotonic() - started)}")
    return written


def run_competition(slug: str, workspace, size: DemoSize, report: Report, progress: bool,
                    scorer: Scorer | None = None) -> CompetitionResult:
    """download → prepare → train → predict → submit, each step reported as ``kit`` would."""
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.config import layered_config
    from kaggle_kit.data.prepare import PrepareOptions, prepare, summary_lines
    from kaggle_kit.download import download
    from kaggle_kit.metrics import get_metric
    from kaggle_kit.predict import predict
    from kaggle_kit.submit import describe, submit
    from kaggle_kit.train import train

    competition = get_competition(slug)
    metric_name = get_metric(competition.metric).title
    report("")
    report(f"== {competition.title} ({slug}): {metric_name} ==")
    config = layered_config(slug, competition.recipe("default"), "default", overrides=size.training[slug])

    with _step(report, "download"):
        report(f"  {download(competition, workspace, progress=progress).summary}")
    with _step(report, "prepare"):
        prepared = prepare(competition, workspace, PrepareOptions(**config.data_settings()), progress=progress)
        for line in summary_lines(prepared):
            report(f"  {line}")
    with _step(report, "train"):
        report(f"  {config.model} {dict(config.model_options)} at {config.image_size} px, {config.epochs} epochs, "
               f"batch {config.batch_size}")
        run = train(competition, workspace, config, progress=progress)
        metrics = run.metrics
        report(f"  run {run.run_id}: validation {metric_name} {metrics['score']:.4f} "
               f"(best epoch {metrics['best_epoch']} of {metrics['epochs_run']}, {metrics['n_val']} images)")
    with _step(report, "predict"):
        report(f"  {predict(competition, workspace, [run.run_id], progress=progress)}")
    with _step(report, "submit"):
        uploaded = not competition.locally_scored and not competition.kernels_only
        outcome = submit(competition, workspace, [run.run_id], upload=uploaded, message="kit demo", progress=progress)
        for line in describe(outcome):
            report(f"  {line}")
        if outcome.standing is not None:
            test_score = outcome.standing.score.score
        elif uploaded:
            test_score = _report_kaggle_scores(competition, report)
        else:  # a code competition: Kaggle scores the notebook's submission.csv, as the stand-in scorer does here
            public, private = scorer(slug, outcome.path.read_bytes())
            report(f"  Scored as Kaggle scores a notebook's submission.csv ({metric_name} on the hidden test "
                   f"labels): public {public}, private {private}")
            test_score = float(public)
    return CompetitionResult(slug, competition.metric, float(metrics["score"]), outcome.path, test_score)


def _report_kaggle_scores(competition, report: Report) -> float | None:
    """The uploaded submissions as ``kit submissions`` lists them; the newest one's public score."""
    from kaggle_kit.kaggle_api import list_submissions, submissions_table
    from kaggle_kit.metrics import get_metric

    rows = list_submissions(competition.source_ref)
    report(f"  Scored by the stand-in Kaggle ({get_metric(competition.metric).title} on the hidden test labels, "
           "public/private halves):")
    for line in submissions_table(rows, competition.source_ref).split("\n"):
        report(f"    {line}")
    return float(rows[0]["publicScore"]) if rows and rows[0]["publicScore"] else None


@contextlib.contextmanager
def _step(report: Report, name: str) -> Iterator[None]:
    started = time.monotonic()
    report(f"{name}:")
    yield
    report(f"  ({name} took {_duration(time.monotonic() - started)})")


def metric_scorer(slug: str, solution: Path) -> Scorer:
    """A stand-in scorer: the competition's metric of an uploaded CSV against ``solution`` (the hidden
    answers, in the sample submission's format), split into public and private halves by a hash of the
    id (Kaggle scores a fixed part of the test set publicly and the rest privately). A half where the
    metric is undefined (one class in a tiny test set) scores ``nan``."""
    import pandas as pd

    from kaggle_kit.competitions import get_competition, stable_fraction
    from kaggle_kit.metrics import get_metric
    from kaggle_kit.submission_format import SubmissionFormat

    competition = get_competition(slug)
    truth = pd.read_csv(solution, dtype=str, keep_default_na=False)
    id_column = truth.columns[0]
    fmt = SubmissionFormat.of(competition, list(truth.columns), truth.iloc[:, 1].tolist())
    y_true = fmt.read(truth)
    public = truth[id_column].map(stable_fraction).to_numpy() < 0.5
    metric = get_metric(competition.metric)

    def half_score(part, predicted) -> str:
        value = metric(y_true[part], predicted[part])
        return "nan" if value != value else f"{value:.5f}"

    def score(_: str, data: bytes) -> tuple[str, str]:
        submitted = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False).set_index(id_column)
        predicted = fmt.read(submitted.reindex(truth[id_column]).reset_index())
        return half_score(public, predicted), half_score(~public, predicted)

    return score


def dispatching_scorer(scorers: dict[str, Scorer]) -> Scorer:
    """One scorer for the stand-in server: each competition's own."""

    def score(competition: str, data: bytes) -> tuple[str, str]:
        return scorers[competition](competition, data)

    return score


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"
