"""The competition registry and custom competition files."""

import pytest

from kaggle_kit.competitions import LabelOptions, get_competition, list_competitions
from kaggle_kit.config import layered_config
from kaggle_kit.errors import ConfigError, DataError, UnknownNameError


def test_both_competitions_are_registered():
    assert list_competitions() == ["galaxy-zoo-2", "histopathologic-cancer-detection"]


def test_unknown_slug_lists_the_valid_ones():
    with pytest.raises(UnknownNameError) as err:
        get_competition("titanic")
    assert str(err.value) == (
        "unknown competition 'titanic'; choose one of: galaxy-zoo-2, histopathologic-cancer-detection, "
        "<path to a custom competition .yaml/.toml>"
    )


@pytest.mark.parametrize("slug", list_competitions())
@pytest.mark.parametrize("recipe", ["default", "notebook"])
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
    assert len(tables.train) == 8 and len(tables.test) == 2
    assert sorted(tables.test_labels["label"]) == [0, 1]  # stratified
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
        ("slug: x\nimages: imgs\nlabels: labels.csv\nmetric: f1\n", "metric must be one of auc, accuracy"),
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
