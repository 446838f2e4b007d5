"""The ``kit`` command line: one thin function per command.

Each command parses its options, calls the library, and echoes. Library errors
(``KitError``) become ``Error: <message>`` with exit code 1. Heavy modules
(TensorFlow, the kaggle client) are imported inside the commands that need them,
so ``kit --help`` stays instant.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from pathlib import Path

import click

from kaggle_kit import __version__
from kaggle_kit.config import (
    BALANCE_CHOICES, FILL_MODES, MIXED_PRECISION, OPTIMIZERS, SCHEDULES, STAIN_NORMS, STRATEGIES, THRESHOLD_RULES,
)
from kaggle_kit.errors import KitError, KitWarning
from kaggle_kit.secrets import scrub
from kaggle_kit.tables import FORMATS


class KitGroup(click.Group):
    """Turns library errors into ``Error: ...`` and exit 1, with no traceback, and the library's
    warnings (``KitWarning``) into ``Warning: ...`` lines on stderr; no credential ever reaches the
    terminal through a message, whatever code raised it."""

    def invoke(self, ctx: click.Context):
        with warnings.catch_warnings():
            warnings.simplefilter("always", KitWarning)
            shown = warnings.showwarning

            def show(message, category, *args, **kwargs):
                if issubclass(category, KitWarning):
                    click.echo(f"Warning: {scrub(str(message))}", err=True)
                else:
                    shown(message, category, *args, **kwargs)

            warnings.showwarning = show  # restored when catch_warnings exits
            try:
                return super().invoke(ctx)
            except KitError as exc:
                raise click.ClickException(scrub(str(exc))) from None


def workspace_options(command):
    """Options every data-touching command shares; passes ``workspace`` to the command."""

    @click.option("--data-dir", type=click.Path(file_okay=False), envvar="KIT_DATA_DIR",
                  help="Data root (default ./data; env KIT_DATA_DIR).")
    @click.option("--runs-dir", type=click.Path(file_okay=False), envvar="KIT_RUNS_DIR",
                  help="Where run folders go (default ./runs; env KIT_RUNS_DIR).")
    @click.option("--submissions-dir", type=click.Path(file_okay=False), envvar="KIT_SUBMISSIONS_DIR",
                  help="Where submissions go (default ./submissions; env KIT_SUBMISSIONS_DIR).")
    @click.option("--raw-dir", type=click.Path(file_okay=False),
                  help="Use these raw competition files in place (e.g. a read-only mount).")
    @functools.wraps(command)
    def wrapper(*args, data_dir, runs_dir, submissions_dir, raw_dir, **kwargs):
        from kaggle_kit.paths import Workspace

        workspace = Workspace.resolve(data_dir, runs_dir, submissions_dir, raw_dir)
        return command(*args, workspace=workspace, **kwargs)

    return wrapper


def format_option(command):
    """--format table|json|csv of the listing commands (JSON and CSV for scripts and notebooks)."""
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                        help="Output: an aligned table, or JSON / CSV for scripts.")(command)


def competition_argument(command):
    """The SLUG argument: a registered slug or a custom competition file."""
    return click.argument("slug", metavar="SLUG")(command)


def load_competition(slug: str, workspace=None):
    """The competition SLUG names: a registered slug, a custom competition file, or (given the
    workspace) the slug of a custom competition prepared there."""
    from kaggle_kit.competitions import get_competition

    return get_competition(slug, workspace)


@click.group(cls=KitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kit")
def cli():
    """kaggle-kit: download, prepare, train, predict and submit an image competition.

    Start with 'kit demo' (offline, no account needed), or 'kit competitions'.
    """
    # TensorFlow's C++ start-up chatter (CPU features, missing CUDA) buries kit's own
    # output; set TF_CPP_MIN_LOG_LEVEL yourself to see it.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@cli.command()
@workspace_options
@format_option
def competitions(workspace, fmt):
    """List the registered competitions and what is on disk for each.

    Example: kit competitions --data-dir /data --format json
    """
    from kaggle_kit.inventory import competition_status, render_competitions

    click.echo(render_competitions(competition_status(workspace), fmt))


@cli.command()
@competition_argument
@click.argument("file", type=click.Path(dir_okay=False))
@workspace_options
def validate(slug, file, workspace):
    """Check a submission CSV against the sample_submission format; list every problem by line.

    Example: kit validate histopathologic-cancer-detection my_submission.csv
    """
    from kaggle_kit.errors import SubmissionError
    from kaggle_kit.validate import validate_file

    report = validate_file(load_competition(slug, workspace), workspace, file)
    for problem in report.problems:
        click.echo(str(problem))
    if report.problems.more:
        click.echo(f"... and {report.problems.more:,} more problem(s), not listed")
    if report.problems:
        raise SubmissionError(f"{file}: {report.problems.total:,} problem(s); fix them and run 'kit validate' again")
    click.echo(f"OK: {file} matches the sample submission ({report.rows} rows, metric {report.metric})")


@cli.command()
@competition_argument
@workspace_options
@format_option
def leaderboard(slug, workspace, fmt):
    """Print the local leaderboard of a locally scored competition (galaxy-zoo-2, custom ones).

    Example: kit leaderboard galaxy-zoo-2 --format csv
    """
    from kaggle_kit.leaderboard import leaderboard_text

    click.echo(leaderboard_text(load_competition(slug, workspace), workspace, fmt))


@cli.command()
@click.option("--only", "names", multiple=True, metavar="NAME", help="Show only this model (repeatable).")
@format_option
def models(names, fmt):
    """List the registered models: parameters at their reference input size, description.

    Example: kit models --only kit-resnet --only notebook-cnn
    """
    from kaggle_kit.models import describe_models, render_models

    click.echo(render_models(describe_models(list(names)), fmt))


@cli.command()
@competition_argument
@click.option("--image-size", type=int, help="Side of the cached square images (default: the recipe's).")
@click.option("--crop", type=float, help="Central fraction of the frame kept before resizing, 0.05-1.")
@click.option("--stain-norm", type=click.Choice(STAIN_NORMS),
              help="H&E stain normalisation of every image, once, in the cache (default: the recipe's).")
@click.option("--balance", type=click.Choice(BALANCE_CHOICES),
              help="Rebalance the training rows (default: the recipe's).")
@click.option("--min-vote-fraction", type=float, help="Galaxy Zoo 2: keep galaxies whose winning vote is at least this.")
@click.option("--max-images", type=int, help="Stratified, seeded subsample of the training rows.")
@click.option("--labels", "labels_file", type=click.Path(dir_okay=False, exists=True),
              help="Extra label table (Galaxy Zoo 2: gz2_hart16.csv).")
@click.option("--workers", type=click.IntRange(min=1), help="Decode processes (default: all cores).")
@click.option("--force", is_flag=True, help="Rebuild the cache even if a matching one exists.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@workspace_options
def prepare(slug, image_size, crop, stain_norm, balance, min_vote_fraction, max_images, labels_file, workers, force,
            no_progress, workspace):
    """Write the label tables and decode every image once into a cache.

    Example: kit prepare histopathologic-cancer-detection --image-size 32 --balance undersample
    """
    from kaggle_kit.data.prepare import prepare as prepare_data, summary_lines
    from kaggle_kit.train import prepare_options

    competition = load_competition(slug, workspace)
    options = prepare_options(
        competition, labels_file=labels_file, image_size=image_size, crop=crop, stain_norm=stain_norm,
        balance=balance,
        min_vote_fraction=min_vote_fraction, max_images=max_images,
    )
    data = prepare_data(competition, workspace, options, force=force, workers=workers, progress=not no_progress)
    for line in summary_lines(data):
        click.echo(line)


def run_options(command):
    """--run (repeatable: several runs are averaged), --tta and --batch-size, shared by predict and submit."""
    command = click.option("--no-progress", is_flag=True, help="Hide the progress bar.")(command)
    command = click.option("--batch-size", type=click.IntRange(min=1),
                           help="Images per model call, TTA views included (default: the run's batch size).")(command)
    command = click.option("--adabn/--no-adabn", default=None,
                           help="Re-estimate BatchNorm statistics on the test images first (unlabelled adaptation). "
                                "Default: the run's recipe.")(command)
    command = click.option("--tta", type=click.Choice(["auto", "none", "flips", "dihedral"]), default="auto",
                           show_default=True,
                           help="Test-time augmentation: average over 4 flips or all 8 flips and quarter-turns; "
                                "auto: the views the run trained with (dihedral for the built-in recipes).")(command)
    return click.option("--run", "run_ids", multiple=True, metavar="RUN",
                        help="Run id under runs/<slug>/; repeat to average several runs (an ensemble). "
                             "Default: the finished run with the best validation score.")(command)


def chosen_runs(workspace, slug: str, run_ids: tuple[str, ...]) -> tuple[str, ...]:
    """The --run ids, or the best finished run (said on stdout) when none is given."""
    from kaggle_kit.runs import best_run, chosen_run_line, list_runs

    if run_ids:
        return run_ids
    run = best_run(workspace, slug)
    click.echo(chosen_run_line(run, sum(1 for each in list_runs(workspace, slug) if each.complete)))
    return (run.run_id,)


@cli.command()
@competition_argument
@run_options
@workspace_options
def predict(slug, run_ids, tta, adabn, batch_size, no_progress, workspace):
    """Predict the prepared test set with a run's best model(s); writes test_predictions[-tta][-adabn].csv.

    Example: kit predict histopathologic-cancer-detection --run 20261122-030000-kit-resnet --tta dihedral
    """
    from kaggle_kit.predict import predict as predict_test_set

    competition = load_competition(slug, workspace)
    run_ids = chosen_runs(workspace, competition.slug, run_ids)
    path = predict_test_set(competition, workspace, run_ids, tta, batch_size, adabn=adabn, progress=not no_progress)
    click.echo(f"Wrote {path}")


@cli.command()
@competition_argument
@run_options
@click.option("--output", type=click.Path(dir_okay=False), help="Write here instead of submissions/<slug>/<run>[-tta].csv.")
@click.option("--overwrite", is_flag=True, help="Replace an existing submission file.")
@click.option("--upload", is_flag=True, help="Send the file to Kaggle (locally scored competitions are scored here).")
@click.option("-m", "--message", help="Submission description shown on Kaggle (with --upload).")
@click.option("--no-report", is_flag=True, help="Do not write a missing report.html into the run folder.")
@click.option("--threshold-rule", type=click.Choice(THRESHOLD_RULES),
              help="Accuracy competitions: the validation threshold with the best accuracy, or the best balanced "
                   "accuracy (holds when the test classes are balanced differently). Default: the run's recipe.")
@workspace_options
def submit(slug, run_ids, tta, adabn, batch_size, no_progress, output, overwrite, upload, message, no_report,
           threshold_rule, workspace):
    """Write a validated submission CSV in the sample_submission format; upload it or score it locally.

    Example: kit submit histopathologic-cancer-detection --run 20261122-030000-kit-resnet --tta flips --upload -m "resnet 96px"
    """
    from kaggle_kit.submit import describe, submit as make_submission

    competition = load_competition(slug, workspace)
    run_ids = chosen_runs(workspace, competition.slug, run_ids)
    outcome = make_submission(competition, workspace, run_ids, tta=tta, adabn=adabn, threshold_rule=threshold_rule,
                              output=output, overwrite=overwrite, upload=upload, message=message,
                              batch_size=batch_size, progress=not no_progress, report=not no_report)
    for line in describe(outcome):
        click.echo(line)


@cli.command()
@click.argument("slug_and_run", nargs=-1, required=True, metavar="[SLUG] RUN")
@workspace_options
def report(slug_and_run, workspace):
    """Write a run's self-contained HTML report (curves, ROC, calibration, mistakes with Grad-CAM).

    RUN is a run id or a run folder; SLUG alone means its latest finished run.

    Example: kit report histopathologic-cancer-detection 20261122-030000-kit-resnet
    """
    from kaggle_kit.report import find_run_folder, write_report

    if len(slug_and_run) > 2:
        raise click.UsageError("give RUN (a run id or folder), or SLUG and RUN")
    *slug, run = slug_and_run
    folder = find_run_folder(workspace, run, slug=slug[0] if slug else None)
    click.echo(f"Wrote {write_report(folder, workspace)}")


@contextlib.contextmanager
def echo_kaggle_warnings():
    """Show the Kaggle layer's warnings (a kaggle.json others can read) as ``Warning: ...`` on stderr."""
    from kaggle_kit.kaggle_api import KaggleKeyPermissionWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", KaggleKeyPermissionWarning)
        try:
            yield
        finally:
            for warning in caught:
                if issubclass(warning.category, KaggleKeyPermissionWarning):
                    click.echo(f"Warning: {warning.message}", err=True)
                else:
                    warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


@cli.command()
@competition_argument
@click.option("--force", is_flag=True, help="Download and extract again, even if already done.")
@click.option("--from-zip", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use an archive fetched by hand instead of the Kaggle API.")
@click.option("--dataset", metavar="OWNER/SLUG", help="Another Kaggle dataset for galaxy-zoo-2.")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="galaxy-zoo-2: this gz2_hart16.csv(.gz) instead of fetching it from the Galaxy Zoo data site.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@workspace_options
def download(slug, force, from_zip, dataset, labels, no_progress, workspace):
    """Download a competition's data through the Kaggle API, verified, into data/<slug>/raw.

    Example: kit download histopathologic-cancer-detection
    """
    from kaggle_kit.download import download as download_data

    with echo_kaggle_warnings():
        result = download_data(load_competition(slug, workspace), workspace, force=force, from_zip=from_zip, dataset=dataset,
                               labels=labels, progress=not no_progress)
    click.echo(result.summary)


@cli.command()
@competition_argument
@format_option
def submissions(slug, fmt):
    """List your past Kaggle submissions of a competition, with their scores.

    Example: kit submissions histopathologic-cancer-detection --format json
    """
    from kaggle_kit.kaggle_api import kaggle_competition_ref, list_submissions, submissions_table

    ref = kaggle_competition_ref(load_competition(slug))
    with echo_kaggle_warnings():
        rows = list_submissions(ref)
    click.echo(submissions_table(rows, ref, fmt))


def _key_value(ctx, param, values):
    """--model-option KEY=VALUE (repeatable) → {KEY: YAML-parsed VALUE}."""
    from kaggle_kit.yamlfile import parse_value

    options = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{item}' is not KEY=VALUE", ctx=ctx, param=param)
        try:
            options[key.strip().replace("-", "_")] = parse_value(value, source=key)
        except KitError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return options or None


def _duration(ctx, param, value):
    """--time-limit 30m → seconds."""
    from kaggle_kit.config import parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value)
    except KitError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


TRAIN_OPTIONS = [
    click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True), help="YAML file of training options."),
    click.option("--recipe", type=click.Choice(["default", "notebook"]), default="default", show_default=True,
                 help="The competition's strong default, or its reference notebook's recipe."),
    click.option("--model", help="A model from `kit models`."),
    click.option("--model-option", "model_options", multiple=True, callback=_key_value, metavar="KEY=VALUE",
                 help="A model option, e.g. bn_momentum=0.25 (repeatable)."),
    click.option("--weights", type=click.Choice(["imagenet"]), help="Pretrained keras.applications weights (downloads)."),
    click.option("--image-size", type=int, help="Side of the square input images."),
    click.option("--crop", type=float, help="Central fraction of the frame kept before resizing, 0.05-1."),
    click.option("--stain-norm", type=click.Choice(STAIN_NORMS), help="H&E stain normalisation in the cache."),
    click.option("--balance", type=click.Choice(BALANCE_CHOICES)),
    click.option("--max-images", type=int, help="Train on a stratified subsample (quick trials)."),
    click.option("--val-fraction", type=float, help="Stratified hold-out fraction."),
    click.option("--pseudo-label", metavar="RUN",
                 help="Also train on RUN's confident test predictions (pseudo-labels; never in validation)."),
    click.option("--pseudo-confidence", type=float,
                 help="Pseudo-label test images predicted at least this sure (default 0.95)."),
    click.option("--folds", type=int, help="Stratified K-fold instead of a hold-out (out-of-fold predictions, CV score)."),
    click.option("--epochs", type=int),
    click.option("--time-limit", callback=_duration, metavar="DURATION",
                 help="Fit the epochs (at most --epochs) and the cosine decay to this budget, e.g. 30m or 1h."),
    click.option("--batch-size", type=int),
    click.option("--lr", type=float, help="Learning rate."),
    click.option("--optimizer", type=click.Choice(OPTIMIZERS)),
    click.option("--weight-decay", type=float),
    click.option("--schedule", type=click.Choice(SCHEDULES)),
    click.option("--warmup-epochs", type=int),
    click.option("--label-smoothing", type=float),
    click.option("--ema-momentum", type=float,
                 help="Validate and keep the moving average of the weights (per step, e.g. 0.999); 0: off."),
    click.option("--patience", "early_stopping_patience", type=int, help="Early-stopping patience in epochs (0: off)."),
    click.option("--seed", type=int, help="Seed of the split, initialisation, shuffling and augmentation."),
    click.option("--mixed-precision", type=click.Choice(MIXED_PRECISION)),
    click.option("--strategy", type=click.Choice(STRATEGIES),
                 help="tf.distribute: mirrored = this machine's GPUs; multiworker = the machines in TF_CONFIG."),
    click.option("--rotation-range", type=float, help="Degrees."),
    click.option("--width-shift-range", type=float, help="Fraction of the width."),
    click.option("--height-shift-range", type=float, help="Fraction of the height."),
    click.option("--zoom-range", type=float, help="Zoom in or out by up to this fraction."),
    click.option("--shear-range", type=float, help="Degrees."),
    click.option("--horizontal-flip/--no-horizontal-flip", default=None),
    click.option("--vertical-flip/--no-vertical-flip", default=None),
    click.option("--dihedral/--no-dihedral", default=None, help="One of the 8 flips and quarter-turns per image."),
    click.option("--brightness-range", type=float, nargs=2, default=None, metavar="LOW HIGH",
                 help="Brightness multiplier range, e.g. 0.9 1.1."),
    click.option("--contrast-range", type=float, help="Contrast change by up to this fraction."),
    click.option("--hed-range", type=float,
                 help="HED stain jitter per image (Tellez et al. 2019): 0.05 light, 0.2 strong."),
    click.option("--hue-range", type=float, help="Hue turned by up to this fraction of the colour circle."),
    click.option("--saturation-range", type=float, help="Saturation multiplied by 1 ± this."),
    click.option("--fill-mode", type=click.Choice(FILL_MODES)),
]


def train_options(command):
    for option in reversed(TRAIN_OPTIONS):
        command = option(command)
    return command


@cli.command()
@competition_argument
@train_options
@click.option("--resume", metavar="RUN", help="Continue an interrupted run from its last finished epoch (its saved config).")
@click.option("--quiet", is_flag=True, help="No progress bars; only the summary line.")
@workspace_options
def train(slug, config_file, recipe, resume, quiet, workspace, **options):
    """Train a model into runs/<slug>/<run-id>/ (prepares the cache first if needed).

    Example: kit train histopathologic-cancer-detection --model kit-resnet --epochs 12 --dihedral
    """
    from kaggle_kit.runs import closing_line
    from kaggle_kit.train import train as train_model, training_config

    if resume and (config_file or any(value not in (None, ()) for value in options.values())):
        raise click.UsageError("--resume continues with the run's saved config; drop the other training options")
    competition = load_competition(slug, workspace)
    config = None if resume else training_config(competition, recipe, config_file, options)
    run = train_model(competition, workspace, config, resume=resume, progress=not quiet)
    click.echo(closing_line(run))  # the run's summary line (another worker of a multi-worker run: where it is)


@cli.command()
@competition_argument
@workspace_options
@format_option
def runs(slug, workspace, fmt):
    """List the training runs of a competition with their model, size, score and epochs.

    Example: kit runs histopathologic-cancer-detection --format json
    """
    from kaggle_kit.runs import list_runs, summarize_runs

    competition = load_competition(slug, workspace)
    found = list_runs(workspace, competition.slug)
    if not found and fmt == "table":
        click.echo(f"No runs of {competition.slug} in {workspace.runs_root(competition.slug)}; "
                   f"start one with `kit train {competition.command_name}`")
        return
    listing = summarize_runs(found)
    for warning in listing.skipped:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(listing.render(fmt))


@cli.command()
@workspace_options
def doctor(workspace):
    """Show what kit sees here (environment, data, credentials, devices, disk) and how to fix problems.

    Example: kit doctor --data-dir /data
    """
    from kaggle_kit.doctor import format_checks, run_checks

    for line in format_checks(run_checks(workspace)):
        click.echo(scrub(line))


@cli.command()
@competition_argument
@click.option("--grid", "grid_specs", multiple=True, required=True, metavar="KEY=V1,V2",
              help="A key and its values (repeatable: the product is trained); K1/K2=A1/B1,A2/B2 varies keys together.")
@train_options
@click.option("--quiet", is_flag=True, help="No progress bars; only the points and the table.")
@workspace_options
def sweep(slug, grid_specs, config_file, recipe, quiet, workspace, **options):
    """Train every point of a small grid; print and save a comparison table and learning curves.

    Example: kit sweep galaxy-zoo-2 --recipe notebook --grid units=16,32,64 --grid lr=1e-3,1e-4 --grid l1/l2=0.01/0,0/0.01
    """
    from kaggle_kit.sweep import parse_grid, run_sweep, table_lines
    from kaggle_kit.train import training_config

    competition = load_competition(slug, workspace)
    base = training_config(competition, recipe, config_file, options)
    grid = parse_grid(grid_specs, base)
    result = run_sweep(competition, workspace, base, grid, progress=not quiet,
                       on_point=lambda index, total, label: click.echo(f"[{index}/{total}] {label}"))
    for line in table_lines(result):
        click.echo(line)
    if len(result.failed):
        raise click.ClickException(f"{len(result.failed)} of {len(result.table)} grid points failed (see above)")


@cli.command()
@click.option("--keep", type=click.Path(file_okay=False), metavar="DIR",
              help="Work in DIR (new or empty) and leave the generated data, runs and submissions there.")
@click.option("--size", type=click.Choice(["small", "full"]), default="full", show_default=True,
              help="small: tiny data and one epoch per competition, a check that every step works.")
@click.option("--all", "every", is_flag=True,
              help="Also the five task-kind competitions: cactus (binary), dog breeds (120 classes), "
                   "APTOS (ordinal grades), plant pathology (4 labels), the Galaxy Challenge (37 fractions).")
def demo(keep, size, every):
    """Run download → prepare → train → predict → submit offline on generated demo competitions.

    Example: kit demo --keep kit-demo
    """
    from kaggle_kit.demo.run import demo as run_demo

    run_demo(size, keep, report=click.echo, every=every)
