"""The review gallery: the most confident mistakes and the most uncertain validation images.

Images come from the run's prepared cache (the pixels the model saw), each shown
beside its Grad-CAM overlay. What cannot be shown (no cache on this machine, a
model without convolutions) is said in a note, and the captions stay.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kaggle_kit.errors import CacheError, KitError
from kaggle_kit.report.artifacts import RunArtifacts

if TYPE_CHECKING:
    from kaggle_kit.paths import Workspace

TILE_SIDE = 160  # pixels per panel in the gallery; small caches (32×32) are enlarged to this
FLAT_REMARK = "Grad-CAM found no evidence for the predicted class in this image (a flat map)."


@dataclass(frozen=True)
class Tile:
    """One reviewed image: its prediction, and the picture (original | Grad-CAM) when available."""

    id: str
    label: int
    prob: float
    predicted: int
    png: bytes | None
    remark: str | None = None  # e.g. a Grad-CAM map with no evidence at all


@dataclass(frozen=True)
class Gallery:
    mistakes: list[Tile]
    uncertain: list[Tile]
    notes: list[str]  # why images or overlays are missing, one line each


def most_confident_mistakes(val: pd.DataFrame, threshold: float, count: int) -> pd.DataFrame:
    """Misclassified rows, the most confidently wrong first (largest |prob − label|)."""
    wrong = val[(val["prob"] >= threshold).astype(int) != val["label"]]
    order = (wrong["prob"] - wrong["label"]).abs().sort_values(ascending=False, kind="stable")
    return wrong.loc[order.index[:count]]


def most_uncertain(val: pd.DataFrame, threshold: float, count: int) -> pd.DataFrame:
    """Rows whose probability is closest to the decision threshold."""
    order = (val["prob"] - threshold).abs().sort_values(kind="stable")
    return val.loc[order.index[:count]]


def build_gallery(run: RunArtifacts, workspace: "Workspace", count: int) -> Gallery:
    """Pick the cases, load their cached images and explain them with Grad-CAM."""
    mistakes = most_confident_mistakes(run.val, run.threshold, count)
    uncertain = most_uncertain(run.val, run.threshold, count)
    cases = pd.concat([mistakes, uncertain]).drop_duplicates("id")
    notes: list[str] = []
    pictures = _pictures(run, workspace, cases, notes)
    return Gallery(
        mistakes=[_tile(row, run.threshold, pictures) for row in mistakes.itertuples()],
        uncertain=[_tile(row, run.threshold, pictures) for row in uncertain.itertuples()],
        notes=notes,
    )


def _tile(row, threshold: float, pictures: dict[str, tuple[bytes, str | None]]) -> Tile:
    png, remark = pictures.get(str(row.id), (None, None))
    return Tile(str(row.id), int(row.label), float(row.prob), int(row.prob >= threshold), png, remark)


def _pictures(
    run: RunArtifacts, workspace: "Workspace", cases: pd.DataFrame, notes: list[str]
) -> dict[str, tuple[bytes, str | None]]:
    """id → (PNG of the image beside its Grad-CAM overlay, remark); notes say what could not be shown."""
    if cases.empty:
        return {}
    ids = cases["id"].astype(str).tolist()
    try:
        images = validation_images(run, workspace, ids)
    except KitError as exc:
        notes.append(f"Validation images are not shown: {exc}")
        return {}
    try:
        heatmaps, layer = _heatmaps(run, cases, images)
    except NoOverlay as exc:
        notes.append(f"Grad-CAM overlays are not shown: {exc}.")
        return {case_id: (tile_png(images[i], None), None) for i, case_id in enumerate(ids)}
    from kaggle_kit.gradcam import overlay

    notes.append(f"Grad-CAM explains each predicted class from layer '{layer}' (red = strongest evidence).")
    overlays, flat = overlay(images, heatmaps), heatmaps.max(axis=(1, 2)) <= 0.0
    return {case_id: (tile_png(images[i], overlays[i]), FLAT_REMARK if flat[i] else None) for i, case_id in enumerate(ids)}


def validation_images(run: RunArtifacts, workspace: "Workspace", ids: list[str]) -> np.ndarray:
    """The cached uint8 images of ``ids`` (the run's image size and crop), in order."""
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.data.prepare import PrepareOptions, load_prepared

    competition = get_competition(run.config.competition, workspace)
    prepared = load_prepared(competition, workspace, PrepareOptions(**run.config.data_settings()))
    # Oversampling repeats ids in the index; any of their rows holds the same image.
    index = prepared.train_index.assign(id=prepared.train_index["id"].astype(str)).drop_duplicates("id")
    rows = pd.Series(index["row"].to_numpy(), index=index["id"])
    absent = [case_id for case_id in ids if case_id not in rows.index]
    if absent:
        raise CacheError(
            f"the cache {prepared.root} has no image for id(s) {', '.join(absent[:3])}; "
            f"re-run 'kit prepare {competition.command_name}' with this run's options"
        )
    return prepared.train_store().read(rows.loc[ids].to_numpy())


class NoOverlay(Exception):
    """Why Grad-CAM cannot explain this run's model; the report says it instead of showing overlays."""


def _heatmaps(run: RunArtifacts, cases: pd.DataFrame, images: np.ndarray) -> tuple[np.ndarray, str]:
    """Grad-CAM maps, each image explained by the model (fold) that predicted it, and the layer used."""
    from kaggle_kit.gradcam import find_target, gradcam
    from kaggle_kit.runfolder import load_model

    if not run.models:
        raise NoOverlay(f"{run.folder} holds no best.keras model")
    folds = cases["fold"].to_numpy() if "fold" in cases and None not in run.models else [None] * len(cases)
    heatmaps = np.zeros(images.shape[:3], dtype=np.float32)
    for fold in dict.fromkeys(folds):
        model = load_model(run.models[_model_key(run, fold)])
        explainer = find_target(model)
        if explainer is None:
            raise NoOverlay(
                f"model '{run.config.model}' has no convolutional layer, so there is no feature map to explain"
            )
        picked = np.asarray([f == fold for f in folds])
        try:
            heatmaps[picked] = gradcam(model, images[picked], explainer)
        except ValueError as exc:
            raise NoOverlay(str(exc)) from None
    return heatmaps, explainer.layer_name


def _model_key(run: RunArtifacts, fold) -> int | None:
    if fold is None or None in run.models:
        return None
    return int(fold)


def tile_png(image: np.ndarray, overlaid: np.ndarray | None) -> bytes:
    """The image (and its overlay beside it) enlarged to TILE_SIDE, as PNG bytes."""
    from PIL import Image

    panels = [image] if overlaid is None else [image, overlaid]
    side = TILE_SIDE
    canvas = Image.new("RGB", (side * len(panels) + 4 * (len(panels) - 1), side), "white")
    for index, panel in enumerate(panels):
        enlarged = Image.fromarray(panel).resize((side, side), Image.NEAREST)
        canvas.paste(enlarged, (index * (side + 4), 0))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")  # optimize=True is ~7× slower and no smaller on these tiles
    return buffer.getvalue()
