"""Shared fixtures: small generated competitions, an isolated workspace, no network."""

from __future__ import annotations

import os

import pytest

from _fixtures_demo import *  # noqa: F401,F403
from _fixtures_kaggle import *  # noqa: F401,F403
from _fixtures_predict import *  # noqa: F401,F403
from _fixtures_prepare import *  # noqa: F401,F403
from _fixtures_runs import *  # noqa: F401,F403
from _fixtures_tasks import *  # noqa: F401,F403
from _fixtures_train import *  # noqa: F401,F403

# Quiet TensorFlow's C++ start-up logging in test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture
def workspace_env(tmp_path, monkeypatch):
    """An isolated workspace: data, runs and submissions under tmp_path."""
    from kaggle_kit.paths import Workspace

    for name, folder in (("KIT_DATA_DIR", "data"), ("KIT_RUNS_DIR", "runs"), ("KIT_SUBMISSIONS_DIR", "submissions")):
        monkeypatch.setenv(name, str(tmp_path / folder))
    monkeypatch.delenv("KIT_KAGGLE_INPUT", raising=False)
    monkeypatch.delenv("KIT_KAGGLE_WORKING", raising=False)
    return Workspace.resolve()


@pytest.fixture
def op_determinism():
    """TensorFlow's deterministic kernels for one test: seeded runs must then match exactly on any device
    (GPU kernels such as cuDNN convolutions and atomics-based reductions are not deterministic by default)."""
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config  # disable_op_determinism has no public alias

    was_enabled = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_enabled:
        tf_config.disable_op_determinism()
