"""The ``kit`` command line: one thin function per command.

Each command parses its options, calls the library, and echoes. Library errors
(``KitError``) become ``Error: <message>`` with exit code 1. Heavy modules
(TensorFlow, the kaggle client) are imported inside the commands that need them,
so ``kit --help`` stays instant.
"""

from __future__ import annotations

import functools

import click

from kaggle_kit import __version__
from kaggle_kit.errors import KitError


class KitGroup(click.Group):
    """Turns library errors into ``Error: ...`` and exit 1, with no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KitError as exc:
            raise click.ClickException(str(exc)) from None


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


def competition_argument(command):
    """The SLUG argument: a registered slug or a custom competition file."""
    return click.argument("slug", metavar="SLUG")(command)


def load_competition(slug: str):
    from kaggle_kit.competitions import get_competition

    return get_competition(slug)


@click.group(cls=KitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kit")
def cli():
    """kaggle-kit: download, prepare, train, predict and submit an image competition.

    Start with 'kit demo' (offline, no account needed), or 'kit competitions'.
    """


@cli.command()
@workspace_options
def competitions(workspace):
    """List the registered competitions and what is on disk for each.

    Example: kit competitions --data-dir /data
    """
    from kaggle_kit.inventory import competition_status

    rows = competition_status(workspace)
    header = ("slug", "source", "metric", "downloaded", "prepared")
    table = [header] + [
        (r.slug, r.source, r.metric, "yes" if r.downloaded else "no", "yes" if r.prepared else "no") for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


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

    report = validate_file(load_competition(slug), workspace, file)
    for problem in report.problems:
        click.echo(str(problem))
    if report.problems:
        raise SubmissionError(f"{file}: {len(report.problems)} problem(s); fix them and run 'kit validate' again")
    click.echo(f"OK: {file} matches the sample submission ({report.rows} rows, metric {report.metric})")


@cli.command()
@competition_argument
@workspace_options
def leaderboard(slug, workspace):
    """Print the local leaderboard of a locally scored competition (galaxy-zoo-2, custom ones).

    Example: kit leaderboard galaxy-zoo-2
    """
    from kaggle_kit.leaderboard import leaderboard_lines

    for line in leaderboard_lines(load_competition(slug), workspace):
        click.echo(line)


@cli.command()
@competition_argument
@click.option("--image-size", type=int, help="Side of the cached square images (default: the recipe's).")
@click.option("--crop", type=float, help="Central fraction of the frame kept before resizing, 0.05-1.")
@click.option("--balance", type=click.Choice(["none", "undersample", "oversample", "class-weight"]),
              help="Rebalance the training rows (default: the recipe's).")
@click.option("--min-vote-fraction", type=float, help="Galaxy Zoo 2: keep galaxies whose winning vote is at least this.")
@click.option("--max-images", type=int, help="Stratified, seeded subsample of the training rows.")
@click.option("--labels", "labels_file", type=click.Path(dir_okay=False, exists=True),
              help="Extra label table (Galaxy Zoo 2: gz2_hart16.csv).")
@click.option("--workers", type=click.IntRange(min=1), help="Decode processes (default: all cores).")
@click.option("--force", is_flag=True, help="Rebuild the cache even if a matching one exists.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@workspace_options
def prepare(slug, image_size, crop, balance, min_vote_fraction, max_images, labels_file, workers, force, no_progress,
            workspace):
    """Write the label tables and decode every image once into a cache.

    Example: kit prepare histopathologic-cancer-detection --image-size 32 --balance undersample
    """
    from kaggle_kit.data.prepare import PrepareOptions, prepare as prepare_data, summary_lines

    competition = load_competition(slug)
    options = PrepareOptions.for_competition(
        competition, labels_file=labels_file, image_size=image_size, crop=crop, balance=balance,
        min_vote_fraction=min_vote_fraction, max_images=max_images,
    )
    data = prepare_data(competition, workspace, options, force=force, workers=workers, progress=not no_progress)
    for line in summary_lines(data):
        click.echo(line)


@cli.command()
@click.argument("slug_and_run", nargs=-1, required=True, metavar="[SLUG] RUN")
@workspace_options
def report(slug_and_run, workspace):
    """Write a run's self-contained HTML report (curves, ROC, calibration, mistakes with Grad-CAM).

    Example: kit report histopathologic-cancer-detection 20261122-0300-kit-resnet
    """
    from kaggle_kit.report import find_run_folder, write_report

    if len(slug_and_run) > 2:
        raise click.UsageError("give RUN (a run id or folder), or SLUG and RUN")
    *slug, run = slug_and_run
    folder = find_run_folder(workspace, run, slug=slug[0] if slug else None)
    click.echo(f"Wrote {write_report(folder, workspace)}")
