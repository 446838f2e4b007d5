"""``python -m kaggle_kit`` is the same as ``kit``."""

from kaggle_kit.cli import cli

if __name__ == "__main__":
    cli(prog_name="kit")
