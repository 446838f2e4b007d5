"""``kit doctor``: what kit sees on this machine, and each problem with its fix.

Checks the environment (local, Kaggle Notebook, Docker), the workspace folders,
the raw data and caches of every competition, Kaggle credentials (where they come
from, never the key), TensorFlow and its devices, and free disk space.
"""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from kaggle_kit.competitions import get_competition
from kaggle_kit.environment import environment_name
from kaggle_kit.errors import CredentialsError
from kaggle_kit.inventory import competition_status
from kaggle_kit.paths import Workspace

LOW_DISK_BYTES = 10 * 2**30


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report: ``status`` is ok, warn or fail; ``fix`` says what to do."""

    name: str
    status: str
    detail: str
    fix: str = ""


def run_checks(workspace: Workspace, with_tensorflow: bool = True) -> list[Check]:
    checks = [Check("environment", "ok", environment_name())]
    checks += workspace_checks(workspace)
    checks += competition_checks(workspace)
    checks.append(credentials_check())
    if with_tensorflow:
        checks += tensorflow_checks()
    checks.append(disk_check(workspace.data_dir))
    return checks


def _writable_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def workspace_checks(workspace: Workspace) -> list[Check]:
    checks = []
    for name, folder, option in (
        ("data root", workspace.data_dir, "--data-dir / KIT_DATA_DIR"),
        ("runs folder", workspace.runs_dir, "--runs-dir / KIT_RUNS_DIR"),
        ("submissions folder", workspace.submissions_dir, "--submissions-dir / KIT_SUBMISSIONS_DIR"),
    ):
        existing = _writable_parent(folder.resolve())
        if os.access(existing, os.W_OK):
            checks.append(Check(name, "ok", str(folder)))
        else:
            checks.append(Check(name, "fail", f"{folder} is not writable", f"point {option} at a writable folder"))
    return checks


def competition_checks(workspace: Workspace) -> list[Check]:
    checks = []
    for status in competition_status(workspace):
        raw = get_competition(status.slug).raw_dir(workspace)
        if status.prepared:
            checks.append(Check(status.slug, "ok", f"raw data {raw}; prepared cache present"))
        elif status.downloaded:
            checks.append(Check(status.slug, "ok", f"raw data {raw}; not prepared yet", f"kit prepare {status.slug}"))
        else:
            checks.append(Check(status.slug, "warn", f"no raw data at {raw}", f"kit download {status.slug}"))
    return checks


def credentials_check() -> Check:
    from kaggle_kit.kaggle_api import KaggleKeyPermissionWarning, find_credentials

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", KaggleKeyPermissionWarning)
        try:
            credentials = find_credentials()
        except CredentialsError as exc:
            return Check("kaggle credentials", "warn", "none found (only needed to download or upload)", str(exc))
    loose = [w for w in caught if issubclass(w.category, KaggleKeyPermissionWarning)]
    if loose:
        return Check("kaggle credentials", "warn", f"{credentials.kind} from {credentials.source}", str(loose[0].message))
    return Check("kaggle credentials", "ok", f"{credentials.kind} from {credentials.source}")


def tensorflow_checks() -> list[Check]:
    import tensorflow as tf

    from kaggle_kit.training.model import gpu_count

    gpus = gpu_count()
    gpu_detail = f"{gpus} GPU(s)" if gpus else "none: training runs on the CPU"
    return [
        Check("tensorflow", "ok", f"{tf.__version__} (keras {tf.keras.version()})"),
        Check("devices", "ok", f"CPU cores: {os.cpu_count()}; GPUs: {gpu_detail}"),
        Check("mixed precision", "ok", mixed_precision_detail(gpus)),
    ]


def mixed_precision_detail(gpus: int) -> str:
    """What ``--mixed-precision auto`` (the default) trains with here."""
    from kaggle_kit.training.precision import cpu_supports_bfloat16, policy_name

    bf16 = cpu_supports_bfloat16()
    policy = policy_name("auto", gpus=gpus, cpu_bf16=bf16)
    if policy == "float32":
        return "off by default (float32)" + ("; this CPU has bfloat16: --mixed-precision bfloat16" if bf16 else "")
    return f"on by default ({policy})"


def disk_check(data_dir: Path) -> Check:
    free = shutil.disk_usage(_writable_parent(data_dir.resolve())).free
    detail = f"{free / 2**30:.1f} GiB free at {data_dir}"
    if free < LOW_DISK_BYTES:
        return Check("disk", "warn", detail, "the cancer competition needs about 20 GiB (zip, images, cache): free some space")
    return Check("disk", "ok", detail)


def format_checks(checks: list[Check]) -> list[str]:
    width = max(len(c.name) for c in checks)
    lines = []
    for check in checks:
        lines.append(f"[{check.status:<4}] {check.name.ljust(width)}  {check.detail}")
        if check.fix:
            lines.append(f"       {' ' * width}  fix: {check.fix}")
    return lines
