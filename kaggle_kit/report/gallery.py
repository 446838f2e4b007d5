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


@dataclass(frozen=True)
class Tile:
    """One reviewed image: its prediction, and the picture (original | Grad-CAM) when available."""

    id: str
    label: int
    prob: float
    predicted: int
    png: bytes | None


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


def _tile(row, threshold: float, pictures: dict[str, bytes]) -> Tile:
    return Tile(str(row.id), int(row.label), float(row.prob), int(row.prob >= threshold), pictures.get(str(row.id)))


def _pictures(run: RunArtifacts, workspace: "Workspace", cases: pd.DataFrame, notes: list[str]) -> dict[str, bytes]:
    """id → PNG of the image (and its overlay when the model allows one); notes say what is missing."""
    if cases.empty:
        return {}
    try:
        images = validation_images(run, workspace, cases["id"].astype(str).tolist())
    except KitError as exc:
        notes.append(f"Validation images are not shown: {exc}")
        return {}
    overlays = _overlays(run, cases, images, notes)
    return {
        case_id: tile_png(images[i], None if overlays is None else overlays[i])
        for i, case_id in enumerate(cases["id"].astype(str))
    }


def validation_images(run: RunArtifacts, workspace: "Workspace", ids: list[str]) -> np.ndarray:
    """The cached uint8 images of ``ids`` (the run's image size and crop), in order."""
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.data.prepare import PrepareOptions, load_prepared

    competition = get_competition(run.config.competition)
    prepared = load_prepared(competition, workspace, PrepareOptions.from_config(run.config))
    index = prepared.train_index.assign(id=prepared.train_index["id"].astype(str)).drop_duplicates("id")  # oversampling repeats ids
    rows = pd.Series(index["row"].to_numpy(), index=index["id"])
    absent = [case_id for case_id in ids if case_id not in rows.index]
    if absent:
        raise CacheError(
            f"the cache {prepared.root} has no image for id(s) {', '.join(absent[:3])}; "
            f"re-run 'kit prepare {competition.slug}' with this run's options"
        )
    return prepared.train_store().read(rows.loc[ids].to_numpy())


def _overlays(run: RunArtifacts, cases: pd.DataFrame, images: np.ndarray, notes: list[str]) -> np.ndarray | None:
    """Grad-CAM overlays, each image explained by the model (fold) that predicted it; None if impossible."""
    import keras

    from kaggle_kit.gradcam import find_target, gradcam, overlay

    if not run.models:
        notes.append(f"Grad-CAM overlays are not shown: {run.folder} holds no best.keras model.")
        return None
    folds = cases["fold"].to_numpy() if "fold" in cases and None not in run.models else [None] * len(cases)
    result = np.empty_like(images)
    for fold in dict.fromkeys(folds):
        model = keras.saving.load_model(run.models[_model_key(run, fold)], compile=False)
        explainer = find_target(model)
        if explainer is None:
            notes.append(
                f"Grad-CAM overlays are not shown: model '{run.config.model}' has no convolutional layer, "
                "so there is no feature map to explain."
            )
            return None
        picked = np.asarray([f == fold for f in folds])
        try:
            result[picked] = overlay(images[picked], gradcam(model, images[picked], explainer))
        except ValueError as exc:
            notes.append(f"Grad-CAM overlays are not shown: {exc}.")
            return None
    notes.append(f"Grad-CAM explains each predicted class from layer '{explainer.layer_name}' (red = strongest evidence).")
    return result


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
    canvas.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
