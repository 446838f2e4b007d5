"""The competition registry and custom competition files."""

import pytest

from kaggle_kit.competitions import LabelOptions, get_competition, list_competitions
from kaggle_kit.competitions._tables import stable_fraction
from kaggle_kit.config import layered_config
from kaggle_kit.errors import ConfigError, DataError, UnknownNameError


BUILT_INS = {  # slug: (task, metric)
    "aerial-cactus-identification": ("binary", "auc"),
    "aptos2019-blindness-detection": ("ordinal regression (5 grades)", "qwk"),
    "dog-breed-identification": ("multiclass (120 classes)", "log_loss"),
    "galaxy-zoo-2": ("binary", "accuracy"),
    "galaxy-zoo-the-galaxy-challenge": ("regression (37 targets in [0, 1])", "rmse"),
    "histopathologic-cancer-detection": ("binary", "auc"),
    "plant-pathology-2020-fgvc7": ("multilabel (4 labels)", "mean_column_auc"),
}


def test_the_built_in_competitions_are_registered_with_their_task_and_metric():
    assert list_competitions() == sorted(BUILT_INS)
    for slug, (task, metric) in BUILT_INS.items():
        competition = get_competition(slug)
        assert (competition.task.describe(), competition.metric) == (task, metric)


def test_unknown_slug_lists_the_valid_ones():
    with pytest.raises(UnknownNameError) as err:
        get_competition("titanic")
    assert str(err.value) == (
        "unknown competition 'titanic'; choose one of: aerial-cactus-identification, aptos2019-blindness-detection, "
        "dog-breed-identification, galaxy-zoo-2, galaxy-zoo-the-galaxy-challenge, histopathologic-cancer-detection, "
        "plant-pathology-2020-fgvc7, <path to a custom competition .yaml/.toml>"
    )


@pytest.mark.parametrize("slug, recipe", [(slug, recipe) for slug in list_competitions()
                                          for recipe in sorted(get_competition(slug).recipes)])
def test_every_recipe_makes_a_valid_config(slug, recipe):
    competition = get_competition(slug)
    config = layered_config(slug, competition.recipe(recipe), recipe)
    assert config.competition == slug
    assert config.recipe == recipe


def test_notebook_recipes_match_the_notebooks():
    cancer = layered_config("c", get_competition("histopathologic-cancer-detection").recipe("notebook"))
    assert (cancer.model, cancer.image_size, cancer.balance, cancer.augment.zoom_range) == ("notebook-cnn", 32, "undersample", 0.2)
    galaxy = layered_config("g", get_competition("galaxy-zoo-2").recipe("notebook"))
    assert (galaxy.model, galaxy.image_size, galaxy.optimizer, galaxy.lr, galaxy.batch_size) == (
        "notebook-dense", 140, "rmsprop", 1e-4, 512,
    )


def write_custom(tmp_path, text, n_images=10):
    images = tmp_path / "imgs"
    images.mkdir()
    for i in range(n_images):
        (images / f"g{i}.png").write_bytes(b"x")
    (tmp_path / "labels.csv").write_text("name,is_spiral\n" + "".join(f"g{i},{i % 2}\n" for i in range(n_images)))
    spec = tmp_path / "comp.yaml"
    spec.write_text(text)
    return spec


CUSTOM = """slug: my-galaxies
images: imgs
labels: labels.csv
id_column: name
label_column: is_spiral
extension: png
metric: accuracy
test_fraction: 0.2
class_names: [other, spiral]
recipe:
  image_size: 64
"""


def test_custom_competition_from_yaml(tmp_path):
    competition = get_competition(str(write_custom(tmp_path, CUSTOM)))
    assert (competition.slug, competition.metric) == ("my-galaxies", "accuracy")
    assert competition.recipe("default")["image_size"] == 64
    tables = competition.build_labels(competition.local_root, LabelOptions())
    assert all(path.endswith(".png") for path in tables.train["path"])
    held_out = sorted(f"g{i}" for i in range(10) if stable_fraction(f"g{i}") < 0.2)  # by each id's hash alone
    assert sorted(tables.test["id"]) == sorted(tables.test_labels["id"]) == held_out
    assert len(tables.train) == 10 - len(held_out)
    assert list(tables.sample_submission.columns) == ["id", "label"]


def test_custom_competition_from_toml(tmp_path):
    write_custom(tmp_path, "")
    spec = tmp_path / "comp.toml"
    spec.write_text('slug = "toml-comp"\nimages = "imgs"\nlabels = "labels.csv"\nid_column = "name"\n'
                    'label_column = "is_spiral"\nextension = ".png"\n')
    competition = get_competition(str(spec))
    assert competition.slug == "toml-comp" and competition.metric == "auc"


@pytest.mark.parametrize(
    "text, message",
    [
        ("slug: x\nimages: imgs\n", "lacks required key(s) labels"),
        ("slug: x\nimages: imgs\nlabels: labels.csv\ncolour: red\n", "unknown key(s) colour"),
        ("slug: Bad Slug\nimages: imgs\nlabels: labels.csv\n", "slug 'Bad Slug' must be lowercase"),
        ("slug: x\nimages: imgs\nlabels: labels.csv\nmetric: f1\n", "comp.yaml: unknown metric 'f1'; choose one of: accuracy, auc, balanced_accuracy, log_loss"),
        ("slug: x\nimages: nowhere\nlabels: labels.csv\n", "images folder"),
        ("slug: [unclosed\n", "is not valid YAML"),
        ("- a list\n", "must hold a mapping"),
    ],
)
def test_custom_competition_errors(tmp_path, text, message):
    spec = write_custom(tmp_path, text)
    with pytest.raises((ConfigError, DataError)) as err:
        get_competition(str(spec))
    assert message in str(err.value)
    assert str(spec) in str(err.value)


def test_custom_labels_must_be_binary(tmp_path):
    spec = write_custom(tmp_path, CUSTOM)
    (tmp_path / "labels.csv").write_text("name,is_spiral\ng0,spiral\ng1,0\n")
    competition = get_competition(str(spec))
    with pytest.raises(DataError, match="must hold only 0 and 1; found 'spiral'"):
        competition.build_labels(competition.local_root, LabelOptions())


def test_digit_only_ids_keep_their_leading_zeros(tmp_path):
    spec = write_custom(tmp_path, CUSTOM, n_images=0)
    for name in ("007", "010", "0", "1"):
        (tmp_path / "imgs" / f"{name}.png").write_bytes(b"x")
    (tmp_path / "labels.csv").write_text("name,is_spiral\n007,1\n010,0\n0,0\n1,1\n")
    competition = get_competition(str(spec))
    tables = competition.build_labels(competition.local_root, LabelOptions())
    ids = sorted(tables.train["id"]) + sorted(tables.test["id"])
    assert sorted(ids) == ["0", "007", "010", "1"]


@pytest.mark.parametrize(
    "line, message",
    [
        ("native_size: 5", "native_size must be a list of the images' width and height in pixels, e.g. [424, 424] "
                           "(got 5); fix it in the file"),
        ("native_size: [424, -1]", "native_size must be a list of the images' width and height in pixels, "
                                   "e.g. [424, 424] (got [424, -1]); fix it in the file"),
        ("class_names: 5", "class_names must be a list of two class names, label 0 then label 1, "
                           "e.g. ['negative', 'positive'] (got 5); fix it in the file"),
        ("class_names: ab", "class_names must be a list of two class names, label 0 then label 1, "
                            "e.g. ['negative', 'positive'] (got 'ab'); fix it in the file"),
        ("class_names: [no, yes]", "class_names must be a list of two class names, label 0 then label 1, "
                                   "e.g. ['negative', 'positive'] (got [false, true]); fix it in the file"),
        ("test_fraction: abc", "test_fraction must be a number (got 'abc'); fix it in the file"),
        ("test_fraction: 1.5", "test_fraction must be above 0 and below 0.9 (got 1.5)"),
        ("id_column: [a, b]", "id_column must be a text value (quote it if it reads as something else) "
                              "(got [\"a\", \"b\"]); fix it in the file"),
        ("extension: {a: 1}", "extension must be a text value (quote it if it reads as something else) "
                              "(got {\"a\": 1}); fix it in the file"),
        ("metric: [auc]", "metric must be a text value (quote it if it reads as something else) (got [\"auc\"]); "
                          "fix it in the file"),
        ("recipe: {augment: [1, 2]}", "recipe: augment must be a mapping of augmentation options (got [1, 2])"),
        ("recipe: {lr: abc}", "recipe: lr must be a number (got 'abc')"),
        ("recipe: {brightness_range: 0.9}", "recipe: unknown option(s) brightness_range"),
    ],
)
def test_wrong_value_types_in_a_custom_file_name_the_file_and_the_key(tmp_path, line, message):
    key = line.split(":")[0]
    base = [row for row in CUSTOM.replace("recipe:\n  image_size: 64\n", "").splitlines() if not row.startswith(key)]
    spec = write_custom(tmp_path, "\n".join(base + [line]) + "\n")
    with pytest.raises(ConfigError) as err:
        get_competition(str(spec))
    assert str(err.value).startswith(f"{spec}: ")
    assert message in str(err.value)


def test_a_custom_file_may_not_take_a_built_in_slug(tmp_path):
    spec = write_custom(tmp_path, CUSTOM.replace("slug: my-galaxies", "slug: galaxy-zoo-2"))
    with pytest.raises(ConfigError) as err:
        get_competition(str(spec))
    assert str(err.value) == (
        f"{spec}: slug 'galaxy-zoo-2' is a built-in competition's (its data, runs and submissions would mix with "
        "yours); choose another slug"
    )


def test_two_custom_files_with_one_slug_never_overwrite_each_others_labels(workspace_env, tmp_path):
    from kaggle_kit.data import PrepareOptions, prepare

    from PIL import Image

    specs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        specs.append(write_custom(tmp_path / name, CUSTOM))
        for image in (tmp_path / name / "imgs").iterdir():
            Image.new("RGB", (8, 8), "white").save(image)
    first, second = specs
    prepare(get_competition(str(first)), workspace_env, PrepareOptions(image_size=8), progress=False)
    labels = workspace_env.labels_dir("my-galaxies")
    before = {p.name: p.read_bytes() for p in labels.iterdir()}
    with pytest.raises(ConfigError) as err:
        prepare(get_competition(str(second)), workspace_env, PrepareOptions(image_size=8), progress=False)
    assert str(err.value) == (
        f"{second}: slug 'my-galaxies' is already used by {first.resolve()} "
        f"(its data is in {workspace_env.competition_dir('my-galaxies')}); choose another slug"
    )
    assert {p.name: p.read_bytes() for p in labels.iterdir()} == before  # test_labels.csv included
    first.unlink()  # the owner's file is gone: the slug is free again
    prepare(get_competition(str(second)), workspace_env, PrepareOptions(image_size=8), progress=False)


def test_the_custom_split_keeps_every_id_where_it_was_when_rows_are_removed(tmp_path):
    spec = write_custom(tmp_path, CUSTOM, n_images=60)
    competition = get_competition(str(spec))
    before = competition.build_labels(competition.local_root, LabelOptions())
    labels = tmp_path / "labels.csv"
    rows = labels.read_text().splitlines()
    removed = {f"g{i}" for i in range(0, 60, 4)}
    labels.write_text("\n".join(row for row in rows if row.split(",")[0] not in removed) + "\n")
    after = competition.build_labels(competition.local_root, LabelOptions())
    assert set(after.test["id"]) == set(before.test["id"]) - removed
    assert set(after.train["id"]) == set(before.train["id"]) - removed


def test_messages_for_a_custom_competition_name_its_file(workspace_env, tmp_path):
    from click.testing import CliRunner

    from kaggle_kit.cli import cli

    spec = write_custom(tmp_path, CUSTOM)
    result = CliRunner().invoke(cli, ["runs", str(spec)])
    assert result.output == (
        f"No runs of my-galaxies in {workspace_env.runs_root('my-galaxies')}; start one with `kit train {spec}`\n"
    )
    result = CliRunner().invoke(cli, ["predict", str(spec), "--run", "r1", "--no-progress"])
    assert result.exit_code == 1
    assert f"see `kit runs " in result.output
    result = CliRunner().invoke(cli, ["leaderboard", str(spec)])
    assert result.output == f"No scored submissions for my-galaxies yet; make one with 'kit submit {spec} --run RUN'\n"
