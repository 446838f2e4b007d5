"""kit report: the self-contained HTML run report, its plots, its gallery and Grad-CAM."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from _fixtures_prepare import write_cancer_raw
from _fixtures_runs import FAKE_CANCER, FAKE_RUN_ID, tiny_model, write_fake_run
from kaggle_kit.cli import cli
from kaggle_kit.errors import RunNotFoundError
from kaggle_kit.paths import Workspace
from kaggle_kit.report import find_run_folder, write_report
from kaggle_kit.figures import calibration, confusion, expected_calibration_error
from kaggle_kit.report.gallery import most_confident_mistakes, most_uncertain
from kaggle_kit.report.html import SECTION_IDS

IMAGE_SIZE = 16
GALLERY = 6  # uncertain cases shown; the fake predictions hold 4 mistakes
PLOTS = 4  # learning curves, ROC, confusion matrix, calibration


@pytest.fixture(scope="module")
def prepared_workspace(tmp_path_factory) -> tuple[Workspace, list[str]]:
    """A tiny cancer competition prepared at 16 px; returns the workspace and 20 cached train ids."""
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.data.prepare import PrepareOptions, prepare

    root = tmp_path_factory.mktemp("report")
    workspace = Workspace.resolve(root / "data", root / "runs", root / "submissions")
    write_cancer_raw(workspace.raw_dir(FAKE_CANCER), n_train=24, side=IMAGE_SIZE)
    options = PrepareOptions(image_size=IMAGE_SIZE)
    prepared = prepare(get_competition(FAKE_CANCER), workspace, options, workers=1, progress=False)
    return workspace, prepared.train_index["id"].astype(str).tolist()[:20]


@pytest.fixture(scope="module")
def conv_report(prepared_workspace) -> Path:
    workspace, ids = prepared_workspace
    folder = write_fake_run(workspace.runs_root(FAKE_CANCER) / "conv-run", ids, image_size=IMAGE_SIZE)
    return write_report(folder, workspace, gallery_size=GALLERY)


def sections(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', html)


def gallery_figures(html: str, section: str) -> list[str]:
    body = html.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]
    return re.findall(r"<figure>.*?</figure>", body, flags=re.S)


# --- the page -----------------------------------------------------------------

def test_report_has_every_section_in_order(conv_report):
    assert sections(conv_report.read_text()) == list(SECTION_IDS)


def test_report_is_self_contained(conv_report):
    html = conv_report.read_text()
    sources = re.findall(r'<img src="([^"]*)"', html)
    assert len(sources) == PLOTS + 4 + GALLERY
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    assert not re.search(r"https?://", html)
    assert "<script" not in html and "<link" not in html and "@import" not in html


def test_report_gallery_shows_images_with_gradcam(conv_report):
    html = conv_report.read_text()
    mistakes = gallery_figures(html, "mistakes")
    assert len(mistakes) == 4
    assert all("<img" in figure for figure in mistakes)
    assert "Grad-CAM explains each predicted class from layer &#x27;conv&#x27;" in html


def test_report_images_are_image_and_overlay_side_by_side(conv_report):
    import base64
    import io

    from PIL import Image

    html = conv_report.read_text()
    first = re.search(r'<img src="data:image/png;base64,([^"]+)" alt="validation image', html).group(1)
    tile = Image.open(io.BytesIO(base64.b64decode(first)))
    assert tile.size == (160 * 2 + 4, 160)


def test_report_of_a_dense_model_says_why_there_is_no_overlay(prepared_workspace):
    workspace, ids = prepared_workspace
    folder = write_fake_run(workspace.runs_root(FAKE_CANCER) / "dense-run", ids, model="notebook-dense",
                            image_size=IMAGE_SIZE, conv=False)
    html = write_report(folder, workspace).read_text()
    assert "model &#x27;notebook-dense&#x27; has no convolutional layer" in html
    assert all("<img" in figure for figure in gallery_figures(html, "mistakes"))  # the images still show


def test_report_of_a_k_fold_run_explains_each_image_with_its_fold_model(prepared_workspace):
    workspace, ids = prepared_workspace
    folder = write_fake_run(workspace.runs_root(FAKE_CANCER) / "cv-run", ids, image_size=IMAGE_SIZE, folds=2)
    html = write_report(folder, workspace).read_text()
    assert sections(html) == list(SECTION_IDS)
    assert "Grad-CAM explains" in html


def test_kit_report_without_a_cache_keeps_plots_and_says_how_to_build_it(fake_run, workspace_env):
    result = CliRunner().invoke(cli, ["report", FAKE_CANCER, FAKE_RUN_ID])
    assert (result.exit_code, result.output) == (0, f"Wrote {fake_run / 'report.html'}\n")
    html = (fake_run / "report.html").read_text()
    assert sections(html) == list(SECTION_IDS)
    assert "Validation images are not shown: no prepared cache of histopathologic-cancer-detection" in html
    assert "kit prepare histopathologic-cancer-detection" in html
    assert len(gallery_figures(html, "mistakes")) == 4  # captions stay
    assert len(re.findall(r"<img ", html)) == PLOTS


def test_report_of_an_unfinished_run_names_the_missing_file(fake_run, workspace_env):
    (fake_run / "metrics.json").unlink()
    with pytest.raises(RunNotFoundError, match=r"lacks metrics.json; the run did not finish"):
        write_report(fake_run, workspace_env)


def test_try_write_report_logs_a_warning_instead_of_failing(fake_run, workspace_env, caplog):
    from kaggle_kit.report import try_write_report

    (fake_run / "val_predictions.csv").write_text("id,prob\nv000,0.5\n")
    with caplog.at_level("WARNING", logger="kaggle_kit.report.writer"):
        assert try_write_report(fake_run, workspace_env) is None
    assert caplog.messages == [
        f"report.html not written for {fake_run} (RunNotFoundError: {fake_run / 'val_predictions.csv'} lacks "
        f"column(s) label; train the run again); retry with `kit report {fake_run}`"
    ]
    assert not (fake_run / "report.html").exists()


# --- the numbers behind the plots ---------------------------------------------

def test_confusion_counts_rows_true_columns_predicted_at_threshold():
    labels = np.array([0, 0, 0, 1, 1])
    probs = np.array([0.1, 0.6, 0.8, 0.7, 0.4])
    assert confusion(labels, probs, 0.5).tolist() == [[1, 2], [1, 1]]
    assert confusion(labels, probs, 0.75).tolist() == [[2, 1], [2, 0]]


def test_roc_auc_is_reported_and_absent_when_validation_has_one_class():
    from kaggle_kit.figures import roc_png

    png, auc = roc_png(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]))
    assert png.startswith(b"\x89PNG") and auc == pytest.approx(0.75)
    assert roc_png(np.array([1, 1, 1]), np.array([0.2, 0.5, 0.9]))[1] is None


def test_calibration_bins_and_expected_calibration_error():
    labels = np.array([0, 0, 1, 1, 1, 0])
    probs = np.array([0.05, 0.15, 0.95, 0.92, 0.55, 0.58])
    table = calibration(labels, probs, bins=10)
    assert table["bin"].tolist() == [0, 1, 5, 9]
    assert table["count"].tolist() == [1, 1, 2, 2]
    assert table["positive_rate"].tolist() == [0.0, 0.0, 0.5, 1.0]
    expected = (0.05 + 0.15 + abs(0.565 - 0.5) * 2 + abs(0.935 - 1.0) * 2) / 6
    assert expected_calibration_error(table) == pytest.approx(expected)


def test_gallery_picks_confident_mistakes_then_uncertain_cases():
    val = pd.DataFrame({"id": list("abcdef"), "label": [0, 1, 0, 1, 0, 1], "prob": [0.95, 0.2, 0.6, 0.45, 0.1, 0.9]})
    assert most_confident_mistakes(val, 0.5, 10)["id"].tolist() == ["a", "b", "c", "d"]
    assert most_confident_mistakes(val, 0.5, 2)["id"].tolist() == ["a", "b"]
    assert most_uncertain(val, 0.5, 3)["id"].tolist() == ["d", "c", "b"]
    assert most_uncertain(val, 0.3, 1)["id"].tolist() == ["b"]


# --- Grad-CAM -------------------------------------------------------------------

def bright_corner_model(size: int):
    """A model whose logit is the mean brightness of its single feature map (identity 1×1 conv)."""
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 3))
    features = layers.Conv2D(1, 1, activation="relu", kernel_initializer="ones", bias_initializer="zeros",
                             name="feature_conv")(inputs)
    logits = layers.Dense(1, kernel_initializer="ones", bias_initializer=keras.initializers.Constant(-1.0))(
        layers.GlobalAveragePooling2D()(features))
    return keras.Model(inputs, logits)


def test_gradcam_peaks_where_the_evidence_is():
    from kaggle_kit.gradcam import find_target, gradcam

    images = np.zeros((1, 16, 16, 3), dtype=np.uint8)
    images[0, 10:14, 2:6] = 255  # a bright square, bottom left
    model = bright_corner_model(16)
    explainer = find_target(model)
    assert explainer.layer_name == "feature_conv"
    heatmap = gradcam(model, images, explainer)[0]
    assert heatmap.shape == (16, 16) and heatmap.max() == pytest.approx(1.0)
    assert heatmap[10:14, 2:6].mean() > 0.9 and heatmap[:6, 10:].max() < 0.05


def test_gradcam_finds_no_target_in_a_dense_model():
    from kaggle_kit.gradcam import find_target

    assert find_target(tiny_model(8, conv=False)) is None


def test_gradcam_follows_a_nested_backbone():
    import keras

    from kaggle_kit.gradcam import find_target, gradcam

    backbone = tiny_model(8)
    backbone = keras.Model(backbone.inputs, backbone.get_layer("pool").output, name="backbone")
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(1)(backbone(keras.layers.Rescaling(1.0)(inputs))))
    explainer = find_target(model)
    assert explainer.layer_name == "backbone/conv"
    heatmaps = gradcam(model, np.full((2, 8, 8, 3), 128, dtype=np.uint8), explainer)
    assert heatmaps.shape == (2, 8, 8)


def test_gradcam_map_is_flat_where_there_is_no_evidence():
    from kaggle_kit.gradcam import find_target, gradcam

    model = bright_corner_model(8)
    assert gradcam(model, np.zeros((1, 8, 8, 3), dtype=np.uint8), find_target(model)).max() == 0.0


def test_gradcam_refuses_a_nested_backbone_it_cannot_follow():
    import keras

    from kaggle_kit.gradcam import find_target, gradcam

    backbone = tiny_model(8)
    backbone = keras.Model(backbone.inputs, backbone.get_layer("pool").output, name="backbone")
    inputs = keras.Input((8, 8, 3))
    features = backbone(inputs)
    skip = keras.layers.Dense(4, name="skip")(keras.layers.Flatten()(inputs))  # a branch around the backbone
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Concatenate()([features, skip])))
    explainer = find_target(model)
    with pytest.raises(ValueError, match=r"is not a plain chain of layers around its backbone; Grad-CAM cannot follow it"):
        gradcam(model, np.full((1, 8, 8, 3), 200, dtype=np.uint8), explainer)


# --- finding the run, and the command ------------------------------------------

def test_find_run_folder_accepts_a_path_an_id_or_slug_and_id(fake_run, workspace_env):
    assert find_run_folder(workspace_env, str(fake_run)) == fake_run
    assert find_run_folder(workspace_env, FAKE_RUN_ID) == fake_run
    assert find_run_folder(workspace_env, FAKE_RUN_ID, slug=FAKE_CANCER) == fake_run


def test_find_run_folder_takes_a_lone_slug_as_its_latest_finished_run(fake_run, workspace_env):
    unfinished = workspace_env.runs_root(FAKE_CANCER) / "20270101-000000-unfinished"
    shutil.copytree(fake_run, unfinished)
    (unfinished / "metrics.json").unlink()
    assert find_run_folder(workspace_env, FAKE_CANCER) == fake_run


def test_find_run_folder_names_the_recent_runs_when_slug_and_run_do_not_match(fake_run, workspace_env):
    with pytest.raises(RunNotFoundError, match=rf"no run 'nope' of {FAKE_CANCER} .*\(recent: {FAKE_RUN_ID}\)"):
        find_run_folder(workspace_env, "nope", slug=FAKE_CANCER)


def test_find_run_folder_asks_for_the_slug_when_an_id_is_ambiguous(fake_run, workspace_env):
    shutil.copytree(fake_run, workspace_env.runs_root("galaxy-zoo-2") / FAKE_RUN_ID)
    with pytest.raises(RunNotFoundError, match=r"exists for several competitions \(galaxy-zoo-2, "
                                               r"histopathologic-cancer-detection\); give SLUG before RUN"):
        find_run_folder(workspace_env, FAKE_RUN_ID)


def test_kit_report_of_an_unknown_run_is_a_one_line_error(workspace_env):
    result = CliRunner().invoke(cli, ["report", "no-such-run"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: no run 'no-such-run' under {workspace_env.runs_dir}; give a run folder path, "
        "or SLUG and RUN ('kit runs SLUG' lists them)\n"
    )


def test_kit_report_refuses_more_than_slug_and_run(workspace_env):
    result = CliRunner().invoke(cli, ["report", FAKE_CANCER, FAKE_RUN_ID, "extra"])
    assert result.exit_code == 2
    assert result.output.endswith("Error: give RUN (a run id or folder), or SLUG and RUN\n")


# --- a real browser ---------------------------------------------------------------

CHECK_IMAGES = (
    "<script>window.addEventListener('load', () => { const imgs = [...document.images];"
    " document.body.dataset.images = imgs.length;"
    " document.body.dataset.loaded = imgs.filter(i => i.complete && i.naturalWidth > 0).length; });</script>"
)


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium); the HTML is still tested structurally")
    return path


def run_chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}"]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=60, check=True)


def test_report_renders_in_headless_chromium_with_every_image_loaded(conv_report, tmp_path):
    from PIL import Image

    browser = chromium()
    probe = tmp_path / "probe.html"  # the report plus a script that counts decoded images into the DOM
    probe.write_text(conv_report.read_text().replace("</body>", CHECK_IMAGES + "</body>"))
    dom = run_chromium(browser, tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()).stdout
    images = re.search(r'data-images="(\d+)"', dom)
    loaded = re.search(r'data-loaded="(\d+)"', dom)
    assert images and loaded, "the load handler did not run"
    assert int(images.group(1)) == PLOTS + 4 + GALLERY and loaded.group(1) == images.group(1)

    shot = tmp_path / "shot.png"
    run_chromium(browser, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,2400", conv_report.as_uri())
    colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50  # None: more colours than counted, certainly not blank


def test_a_custom_competition_report_shows_its_class_names_and_images(workspace_env, tmp_path):
    from PIL import Image

    from _fixtures_prepare import patch_pixels
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.data.prepare import PrepareOptions, prepare

    (tmp_path / "sky" / "images").mkdir(parents=True)
    for i in range(30):
        Image.fromarray(patch_pixels(i, IMAGE_SIZE)).save(tmp_path / "sky" / "images" / f"s{i:02d}.png")
    (tmp_path / "sky" / "labels.csv").write_text("id,label\n" + "".join(f"s{i:02d},{i % 2}\n" for i in range(30)))
    spec = tmp_path / "sky" / "sky.yaml"
    spec.write_text("slug: sky\nimages: images\nlabels: labels.csv\nextension: .png\nclass_names: [calm, storm]\n")
    prepared = prepare(get_competition(str(spec)), workspace_env, PrepareOptions(image_size=IMAGE_SIZE), progress=False)
    ids = prepared.train_index["id"].tolist()[:20]
    folder = write_fake_run(workspace_env.runs_root("sky") / "sky-run", ids, competition="sky", image_size=IMAGE_SIZE)
    html = write_report(folder, workspace_env, gallery_size=GALLERY).read_text()
    assert "Validation images are not shown" not in html
    assert all("<img" in figure for figure in gallery_figures(html, "mistakes"))
    assert "storm" in html and "calm" in html
