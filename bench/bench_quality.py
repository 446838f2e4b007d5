"""Model quality on images the model has never seen: the selection protocol of issue 13.

    nice -n 10 python bench/bench_quality.py run pcam --label default --seeds 1,2,3
    nice -n 10 python bench/bench_quality.py run pcam --label hed-0.05 --set augment.hed_range=0.05 --seeds 1
    nice -n 10 python bench/bench_quality.py run galaxy --label default --seeds 1,2,3
    python bench/bench_quality.py table                 # mean ± sd per recipe, from the results file
    python bench/bench_quality.py table --write-docs    # ... into docs/benchmarks.md

Each run trains exactly as ``kit train`` does (``kaggle_kit.train.train``: the
recipe, its own stratified hold-out of the training rows for the best
checkpoint and early stopping), then predicts images it never saw with
``kaggle_kit.predict.predict`` (once per ``--eval`` mode: plain, 8-view TTA…)
and scores them on two FIXED halves: recipes are chosen on half A and reported
on half B.

pcam: /work/shared/data/pcam-sample. Training rows: the 19,171 ``train_*``
patches; unseen: the 2,907 ``valid_*`` patches, which PCam cut from other
slides. galaxy: /work/shared/data/galaxy-sample as the custom competition
bench/galaxy-sample.yaml with the galaxy-zoo-2 default recipe; unseen: its fixed
20 % held-out test set (by a hash of the id).

The halves: within each class, images sorted by the SHA-256 of their id; the
first half (rounded up) of each class is A, the rest B. Fixed by the ids alone,
stratified, independent of any run.

Every result is appended as one JSON line to ``--results`` (default
bench/results/quality-results.jsonl): recipe label and settings, seed, commit,
scores per eval mode and half, CPU seconds of training and of each prediction
(user + system, this process and its children: the machine is shared, so CPU
time is the cost measure; wall time is recorded beside it with the load
average). ``table`` groups the lines by task and label.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
PCAM = Path(os.environ.get("KIT_PCAM_SAMPLE", "/work/shared/data/pcam-sample"))
GALAXY_SPEC = HERE / "galaxy-sample.yaml"
RESULTS = HERE / "results" / "quality-results.jsonl"
DOCS = HERE.parent / "docs" / "benchmarks.md"
TABLES_START, TABLES_END = "<!-- quality-tables:start -->", "<!-- quality-tables:end -->"


# --- the two tasks -------------------------------------------------------------------------------

def pcam_competition(train_on_all: bool = False):
    """pcam-sample as a locally scored competition: ``train_*`` to train on, ``valid_*`` (other slides) as its test set.

    ``train_on_all``: all 22,078 patches are training rows (as a user of the whole sample would train;
    for wall-time measurements only: the test set is then no longer unseen).
    """
    from kaggle_kit.competitions import Competition, LabelTables
    from kaggle_kit.competitions._tables import attach_paths
    from kaggle_kit.competitions.cancer import DEFAULT_RECIPE, NOTEBOOK_RECIPE

    def build(raw: Path, options) -> LabelTables:
        labels = pd.read_csv(PCAM / "labels.csv", dtype={"id": str})
        table = attach_paths(labels[["id", "label"]], "id", PCAM / "images", ".jpg", PCAM / "labels.csv")
        unseen = table["id"].str.startswith("valid_")
        train = (table if train_on_all else table[~unseen]).reset_index(drop=True)
        test = table[unseen].reset_index(drop=True)
        return LabelTables(train=train, test=test[["id", "path"]],
                           sample_submission=pd.DataFrame({"id": test["id"], "label": 0.5}),
                           test_labels=test[["id", "label"]])

    return Competition(
        slug="pcam-all" if train_on_all else "pcam-sample", title="PCam sample, unseen slides",
        source_kind="local", source_ref=str(PCAM),
        native_size=(96, 96), metric="auc", build_labels=build, check_layout=lambda raw: {},
        locally_scored=True, local_root=PCAM, description="bench only",
        recipes={"default": DEFAULT_RECIPE, "notebook": NOTEBOOK_RECIPE},
    )


def galaxy_competition():
    """The galaxy sample as its custom competition, with the built-in galaxy-zoo-2 recipes (same SDSS cutouts)."""
    import dataclasses

    from kaggle_kit.competitions import get_competition
    from kaggle_kit.competitions.galaxy import DEFAULT_RECIPE, NOTEBOOK_RECIPE

    competition = get_competition(str(GALAXY_SPEC))
    return dataclasses.replace(competition, recipes={"default": DEFAULT_RECIPE, "notebook": NOTEBOOK_RECIPE})


COMPETITIONS = {"pcam": pcam_competition, "galaxy": galaxy_competition,
                "pcam-all": lambda: pcam_competition(train_on_all=True)}


def unseen_labels(task: str, competition, workspace) -> pd.DataFrame:
    """``id,label`` of the images the model never saw, in the test table's order."""
    if task.startswith("pcam"):
        labels = pd.read_csv(PCAM / "labels.csv", dtype={"id": str})
        return labels[labels["id"].str.startswith("valid_")].reset_index(drop=True)
    return pd.read_csv(workspace.labels_dir(competition.slug) / "test_labels.csv", dtype={"id": str})


def half_a(ids: pd.Series, labels: pd.Series) -> np.ndarray:
    """True for half A: per class, the first half (rounded up) of the ids sorted by SHA-256."""
    digests = ids.map(lambda i: hashlib.sha256(str(i).encode()).hexdigest())
    in_a = np.zeros(len(ids), dtype=bool)
    for label in sorted(labels.unique()):
        members = np.flatnonzero((labels == label).to_numpy())
        ordered = members[np.argsort(digests.to_numpy()[members], kind="stable")]
        in_a[ordered[: (len(ordered) + 1) // 2]] = True
    return in_a


# --- scoring ---------------------------------------------------------------------------------------

def balanced_threshold(labels: np.ndarray, probs: np.ndarray) -> float:
    """The threshold maximising balanced accuracy (mean of the two recalls) on these predictions."""
    labels = np.asarray(labels) >= 0.5
    order = np.argsort(-probs, kind="stable")
    p, y = probs[order], labels[order]
    tpr = np.concatenate([[0], np.cumsum(y)]) / max(y.sum(), 1)
    tnr = 1 - np.concatenate([[0], np.cumsum(~y)]) / max((~y).sum(), 1)
    k = int(np.argmax((tpr + tnr)[1:-1])) + 1 if len(p) > 1 else 0
    return float((p[k - 1] + p[k]) / 2) if 0 < k < len(p) else 0.5


def scores(labels: np.ndarray, probs: np.ndarray, thresholds: dict[str, float]) -> dict[str, float]:
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    out = {"auc": float(roc_auc_score(labels, probs)), "n": int(len(labels))}
    for rule, threshold in thresholds.items():
        predicted = probs >= threshold
        out[f"acc_{rule}"] = float(np.mean(predicted == (labels >= 0.5)))
        out[f"bacc_{rule}"] = float(balanced_accuracy_score(labels >= 0.5, predicted))
    return out


def evaluate(task, competition, workspace, run, mode: str) -> dict[str, Any]:
    """Predict the unseen images with ``mode`` and score halves A, B and all.

    ``mode``: a TTA mode (``none``, ``flips``, ``dihedral``), ``adabn``, or both joined by ``+``
    (``dihedral+adabn``): ``kit predict --tta MODE [--adabn]``.
    """
    from kaggle_kit.predict import predict

    parts = mode.split("+")
    tta = next((part for part in parts if part != "adabn"), "none")
    cpu, wall = cpu_seconds(), time.perf_counter()
    path = predict(competition, workspace, [run.run_id], tta=tta, adabn="adabn" in parts, progress=False)
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    truth = unseen_labels(task, competition, workspace)
    probs = pd.read_csv(path, dtype={"id": str}).set_index("id")["prob"].reindex(truth["id"]).to_numpy()
    if np.isnan(probs).any():
        raise SystemExit(f"{path} lacks predictions for some unseen ids")
    labels = truth["label"].to_numpy()
    validation = pd.read_csv(run.path / "val_predictions.csv")
    thresholds = {"accuracy": float(run.metrics["threshold"]),
                  "balanced": balanced_threshold(validation["label"].to_numpy(), validation["prob"].to_numpy())}
    in_a = half_a(truth["id"], truth["label"])
    return {
        "A": scores(labels[in_a], probs[in_a], thresholds),
        "B": scores(labels[~in_a], probs[~in_a], thresholds),
        "all": scores(labels, probs, thresholds),
        "thresholds": thresholds,
        "cpu_s": round(cpu, 1),
        "wall_s": round(wall, 1),
    }


# --- one run ---------------------------------------------------------------------------------------

def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def code_version() -> str:
    """The commit the code runs from: a snapshot's COMMIT file, else git (``-dirty`` with local edits)."""
    import kaggle_kit

    root = Path(kaggle_kit.__file__).resolve().parent.parent
    if (root / "COMMIT").is_file():
        return (root / "COMMIT").read_text().strip()
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=10", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "kaggle_kit"],
                               capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_one(task: str, workspace, recipe: str, settings: dict[str, Any], seed: int, modes: list[str]) -> dict[str, Any]:
    from kaggle_kit.config import layered_config
    from kaggle_kit.train import prepared_data, train

    competition = COMPETITIONS[task]()
    config = layered_config(competition.slug, competition.recipe(recipe), recipe,
                            overrides={**settings, "seed": seed})
    started = time.perf_counter()
    prepared_data(competition, workspace, config, progress=False)  # timed apart: a cache is built once
    prepare_s = time.perf_counter() - started
    load_start = os.getloadavg()[0]
    cpu, wall = cpu_seconds(), time.perf_counter()
    run = train(competition, workspace, config, progress=False)
    train_cpu, train_wall = cpu_seconds() - cpu, time.perf_counter() - wall
    load_trained = os.getloadavg()[0]
    metrics = run.metrics
    return {
        "task": task,
        "recipe": recipe,
        "seed": seed,
        "settings": settings,
        "recipe_digest": config.replace(seed=0).digest(),
        "commit": code_version(),
        "model": config.model,
        "epochs_run": metrics["epochs_run"],
        "best_epoch": metrics["best_epoch"],
        "own_val_score": round(metrics["score"], 4),
        "train_cpu_s": round(train_cpu),
        "train_wall_s": round(train_wall),
        "prepare_wall_s": round(prepare_s, 1),
        "load_start": round(load_start, 1),
        "load_after_training": round(load_trained, 1),
        "eval": {mode: evaluate(task, competition, workspace, run, mode) for mode in modes if mode},
        "load_end": round(os.getloadavg()[0], 1),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run_dir": str(run.path),
    }


def parse_settings(settings: list[str]) -> dict[str, Any]:
    """``["epochs=20", "augment.zoom_range=0.1"]`` → ``{"epochs": 20, "augment": {"zoom_range": 0.1}}``."""
    import yaml

    overrides: dict[str, Any] = {}
    for item in settings:
        key, _, value = item.partition("=")
        target = overrides
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str):  # YAML 1.1 reads "2e-3" (no dot) as a string
            try:
                parsed = float(parsed)
            except ValueError:
                pass  # a genuine string value, e.g. optimizer=adam
        target[leaf] = parsed
    return overrides


def limit_threads(threads: int) -> None:
    """One TensorFlow thread pool size for this process (two 1-thread runs side by side vs one 2-thread run)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


# --- tables ------------------------------------------------------------------------------------------

def read_results(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def mean_sd(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


MODE_NAMES = {"none": "plain", "dihedral": "8×TTA", "adabn": "AdaBN", "dihedral+adabn": "AdaBN + 8×TTA"}


def tables(results: list[dict[str, Any]]) -> str:
    """Markdown: per task, the recipes (mean ± sd over seeds) plain and with 8×TTA on halves A and B,
    their cost, then the predict-time AdaBN variants of the same runs."""
    out = []
    for task in ("pcam", "galaxy"):
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in results:
            if r["task"] == task:
                groups.setdefault(r["label"], []).append(r)
        if not groups:
            continue
        galaxy = task == "galaxy"

        def column(group, mode, half, key="auc"):
            return mean_sd([r["eval"][mode][half][key] for r in group if mode in r["eval"]])

        head = ["recipe", "seeds", "A: AUC", "A: AUC 8×TTA", "B: AUC", "B: AUC 8×TTA"]
        if galaxy:
            head += ["B: bal. acc, accuracy rule (8×TTA)", "B: bal. acc, balanced rule (8×TTA)",
                     "B: acc, accuracy rule (8×TTA)", "B: acc, balanced rule (8×TTA)"]
        head += ["own val", "epochs", "train CPU-min", "8×TTA CPU-s"]
        lines = [row(head), "|" + "---|" * len(head)]
        adabn = [row(["recipe", "A: AdaBN", "A: AdaBN + 8×TTA", "B: AdaBN", "B: AdaBN + 8×TTA"]), "|---|---|---|---|---|"]
        for label, group in groups.items():
            same = len({r["recipe_digest"] for r in group}) == 1
            name = f"`{label}`" + ("" if same else " (⚠ recipes differ)")
            cells = [name, ", ".join(str(r["seed"]) for r in group),
                     column(group, "none", "A"), column(group, "dihedral", "A"),
                     column(group, "none", "B"), column(group, "dihedral", "B")]
            if galaxy:
                cells += [column(group, "dihedral", "B", key)
                          for key in ("bacc_accuracy", "bacc_balanced", "acc_accuracy", "acc_balanced")]
            cells += [mean_sd([r["own_val_score"] for r in group]),
                      mean_sd([r["epochs_run"] for r in group], 0),
                      mean_sd([r["train_cpu_s"] / 60 for r in group], 0),
                      mean_sd([r["eval"]["dihedral"]["cpu_s"] for r in group if "dihedral" in r["eval"]], 0)]
            lines.append(row(cells))
            if any("adabn" in r["eval"] for r in group):
                adabn.append(row([name, column(group, "adabn", "A"), column(group, "dihedral+adabn", "A"),
                                  column(group, "adabn", "B"), column(group, "dihedral+adabn", "B")]))
        notes = [f"- `{label}`: {describe(group[0])}" for label, group in groups.items()]
        title = "PCam sample: train_* → valid_* (other slides)" if task == "pcam" else "Galaxy sample: held-out 20 %"
        out += [f"**{title}**", "", *lines, ""]
        if len(adabn) > 2:
            out += ["Predict-time AdaBN, the same runs:", "", *adabn, ""]
        out += [*notes, ""]
    timed = [r for r in results if r["task"] == "pcam-all"]
    if timed:
        out += ["**Wall time of `kit train` on all 22,078 PCam sample patches** (TF's own thread count; the load "
                "average is the 1-minute one at the start and at the end of training):", "",
                row(["recipe", "seed", "epochs", "train wall min", "train CPU-min", "load start → end",
                     "8×TTA predict of 2,907 patches, wall s"]), "|---|---|---|---|---|---|---|"]
        for r in timed:
            tta = r["eval"].get("dihedral", {}).get("wall_s")
            out.append(row([f"`{r['label']}`", str(r["seed"]), str(r["epochs_run"]), f"{r['train_wall_s'] / 60:.1f}",
                            f"{r['train_cpu_s'] / 60:.1f}",
                            f"{r['load_start']} → {r.get('load_after_training', r['load_end'])}",
                            "–" if tta is None else f"{tta:.0f}"]))
        out.append("")
    return "\n".join(out)


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def describe(result: dict[str, Any]) -> str:
    settings = ", ".join(f"{k}={json.dumps(v)}" for k, v in flatten(result["settings"]).items())
    return (f"recipe `{result['recipe']}` of code {result['commit']}" + (f" + {settings}" if settings else ""))


def flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def write_docs(text: str) -> None:
    docs = DOCS.read_text()
    start, end = docs.index(TABLES_START) + len(TABLES_START), docs.index(TABLES_END)
    DOCS.write_text(docs[:start] + "\n" + text + "\n" + docs[end:])


# --- command line --------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="train and judge one recipe at one or more seeds")
    run.add_argument("task", choices=sorted(COMPETITIONS))
    run.add_argument("--label", required=True, help="the recipe's name in the tables (same label = same recipe)")
    run.add_argument("--recipe", default="default", choices=("default", "notebook"))
    run.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                     help="override a recipe value (YAML value; augment.NAME, model_options.NAME), repeatable")
    run.add_argument("--seeds", default="1", help="comma-separated seeds (config.seed)")
    run.add_argument("--eval", default="none,dihedral,adabn,dihedral+adabn",
                     help="comma-separated predict modes: a TTA mode, adabn, or TTA+adabn")
    run.add_argument("--threads", type=int, default=0, help="TensorFlow threads for this process (0: TF decides)")
    run.add_argument("--workspace", default="/tmp/quality-bench", help="caches and runs go here (reused)")
    run.add_argument("--results", type=Path, default=RESULTS)
    table = commands.add_parser("table", help="mean ± sd per recipe from the results file")
    table.add_argument("--results", type=Path, default=RESULTS)
    table.add_argument("--write-docs", action="store_true", help=f"replace the generated tables in {DOCS.name}")
    args = parser.parse_args()

    if args.command == "table":
        text = tables(read_results(args.results))
        print(text)
        if args.write_docs:
            write_docs(text)
        return
    if args.threads:
        limit_threads(args.threads)
    from kaggle_kit.paths import Workspace

    root = Path(args.workspace)
    workspace = Workspace.resolve(root / "data", root / "runs", root / "submissions")
    settings = parse_settings(args.settings)
    for seed in (int(s) for s in args.seeds.split(",")):
        result = {"label": args.label, "threads": args.threads,
                  **run_one(args.task, workspace, args.recipe, settings, seed, args.eval.split(","))}
        line = json.dumps(result)
        print(line, flush=True)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        with open(args.results, "a", encoding="utf-8") as out:
            out.write(line + "\n")


if __name__ == "__main__":
    main()
