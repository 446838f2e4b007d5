"""Dog Breed Identification: 120 breeds of ImageNet dogs; multi-class log loss, one probability column per breed.

The layout (openai/mle-bench ``mlebench/competitions/dog-breed-identification``:
``prepare.py``, ``grade.py``, ``dogs.py``, ``description.md``): ``train/<id>.jpg``,
``test/<id>.jpg`` (32-hex ids), ``labels.csv`` (``id,breed``), and a wide
``sample_submission.csv``: ``id`` then one column per breed, in this alphabetical
order. Kaggle scores it with multi-class log loss after clipping to [1e-15,
1 − 1e-15] and rescaling each row to sum to 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from kaggle_kit.competitions._registry import (
    Competition,
    LabelOptions,
    LabelTables,
    counting_layout,
    register_competition,
)
from kaggle_kit.competitions.custom import GENERIC_RECIPE
from kaggle_kit.competitions._tables import attach_paths, check_unique_ids, read_table, require_extracted
from kaggle_kit.errors import DataError
from kaggle_kit.tasks import Task

SLUG = "dog-breed-identification"
REQUIRED = ("train", "test", "labels.csv", "sample_submission.csv")
BREEDS: tuple[str, ...] = tuple("""
affenpinscher afghan_hound african_hunting_dog airedale american_staffordshire_terrier appenzeller
australian_terrier basenji basset beagle bedlington_terrier bernese_mountain_dog black-and-tan_coonhound
blenheim_spaniel bloodhound bluetick border_collie border_terrier borzoi boston_bull bouvier_des_flandres
boxer brabancon_griffon briard brittany_spaniel bull_mastiff cairn cardigan chesapeake_bay_retriever
chihuahua chow clumber cocker_spaniel collie curly-coated_retriever dandie_dinmont dhole dingo doberman
english_foxhound english_setter english_springer entlebucher eskimo_dog flat-coated_retriever
french_bulldog german_shepherd german_short-haired_pointer giant_schnauzer golden_retriever gordon_setter
great_dane great_pyrenees greater_swiss_mountain_dog groenendael ibizan_hound irish_setter irish_terrier
irish_water_spaniel irish_wolfhound italian_greyhound japanese_spaniel keeshond kelpie kerry_blue_terrier
komondor kuvasz labrador_retriever lakeland_terrier leonberg lhasa malamute malinois maltese_dog
mexican_hairless miniature_pinscher miniature_poodle miniature_schnauzer newfoundland norfolk_terrier
norwegian_elkhound norwich_terrier old_english_sheepdog otterhound papillon pekinese pembroke pomeranian
pug redbone rhodesian_ridgeback rottweiler saint_bernard saluki samoyed schipperke scotch_terrier
scottish_deerhound sealyham_terrier shetland_sheepdog shih-tzu siberian_husky silky_terrier
soft-coated_wheaten_terrier staffordshire_bullterrier standard_poodle standard_schnauzer sussex_spaniel
tibetan_mastiff tibetan_terrier toy_poodle toy_terrier vizsla walker_hound weimaraner
welsh_springer_spaniel west_highland_white_terrier whippet wire-haired_fox_terrier yorkshire_terrier
""".split())

DEFAULT_RECIPE: dict[str, Any] = {
    **GENERIC_RECIPE,
    "epochs": 20,
    "lr": 2e-3,
    "label_smoothing": 0.1,
    "augment": {"horizontal_flip": True, "zoom_range": 0.1, "width_shift_range": 0.1, "height_shift_range": 0.1,
                "fill_mode": "reflect"},
}


def build_labels(raw: Path, options: LabelOptions) -> LabelTables:
    require_extracted(raw, REQUIRED)
    labels_csv = raw / "labels.csv"
    table = read_table(labels_csv, ["id", "breed"], hint="re-download the competition", id_column="id")
    check_unique_ids(table, "id", labels_csv)
    index = {breed: k for k, breed in enumerate(BREEDS)}
    classes = table["breed"].astype(str).str.strip().map(index)
    unknown = table["breed"][classes.isna()]
    if len(unknown):
        raise DataError(f"{labels_csv} names {len(unknown)} row(s) with breeds that are not among the 120 "
                        f"(e.g. {unknown.iloc[0]!r}); fix the breed names")
    train = pd.DataFrame({"id": table["id"].astype(str), "label": classes.astype("int64")})
    train = attach_paths(train, "id", raw / "train", ".jpg", labels_csv)
    sample_csv = raw / "sample_submission.csv"
    sample = read_table(sample_csv, ["id", *BREEDS], hint="re-download the competition", id_column="id")
    check_unique_ids(sample, "id", sample_csv)
    test = attach_paths(sample[["id"]], "id", raw / "test", ".jpg", sample_csv)
    notes = {"train": len(train), "breeds_seen": int(train["label"].nunique()), "test": len(test)}
    return LabelTables(train=train, test=test, sample_submission=sample, notes=notes)


@register_competition
def dog_breed_identification() -> Competition:
    return Competition(
        slug=SLUG,
        title="Dog Breed Identification",
        source_kind="competition",
        source_ref=SLUG,
        native_size=(0, 0),  # photos of every size
        metric="log_loss",
        build_labels=build_labels,
        check_layout=counting_layout(build_labels),
        task=Task("multiclass", BREEDS),
        recipes={"default": DEFAULT_RECIPE},
        description="120 dog breeds (ImageNet's Stanford Dogs); multi-class log loss; one probability column per breed.",
    )
