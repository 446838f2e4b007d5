"""README, CI and Dockerfile stay true to the code."""

import importlib.util
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands():
    spec = importlib.util.spec_from_file_location("readme_commands", ROOT / ".ci" / "readme_commands.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.quick_start_commands((ROOT / "README.md").read_text())


def test_readme_quick_start_has_exactly_the_two_commands():
    demo, test = readme_commands()
    assert len(readme_commands()) == 2
    assert demo.endswith("kit demo") and demo.startswith("pip install")
    assert test.endswith("pytest") and "[test]" in test


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "readme_commands.py test" in ci
    assert "python3 -m venv" in ci


def test_dockerfile_copies_existing_files_and_runs_kit():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    assert 'ENTRYPOINT ["kit"]' in dockerfile
    assert re.search(r"^FROM tensorflow/tensorflow:\$\{TF_TAG\}", dockerfile, re.M)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert f'org.opencontainers.image.version="{version}"' in dockerfile


def test_readme_mentions_every_command():
    from kaggle_kit.cli import cli

    readme = (ROOT / "README.md").read_text()
    for name in cli.commands:
        assert f"kit {name}" in readme, f"README does not document 'kit {name}'"


def test_keras_is_a_declared_dependency_at_the_tested_versions():
    import keras
    import tensorflow as tf
    from packaging.requirements import Requirement

    declared = {Requirement(line).name: Requirement(line).specifier
                for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert keras.__version__ in declared["keras"] and tf.__version__ in declared["tensorflow"]


def test_the_library_uses_no_private_keras_module():
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "kaggle_kit").rglob("*.py")
                 if re.search(r"\bkeras\.src\b", path.read_text(encoding="utf-8"))]
    assert offenders == []
