"""Galaxy Zoo 2 on the real files' shapes: the mapping's repeated objids and samples, the Hart et al. 2016
table's 231 columns, blank ids, 18-digit ids, and the confidence filter on the class that won."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from click.testing import CliRunner

from _fixtures_demo import GALAXIES
from kaggle_kit.cli import cli
from kaggle_kit.competitions import get_competition
from kaggle_kit.competitions._registry import LabelOptions
from kaggle_kit.errors import DataError

GALAXY = "galaxy-zoo-2"
SMOOTH = "t01_smooth_or_features_a01_smooth_debiased"
FEATURES = "t01_smooth_or_features_a02_features_or_disk_debiased"
STAR = "t01_smooth_or_features_a03_star_or_artifact_debiased"


def build(raw, **options):
    return get_competition(GALAXY).build_labels(raw, LabelOptions(**options))


@pytest.fixture
def raw(galaxy_raw, tmp_path):
    """A copy of the generated dataset a test may edit."""
    return shutil.copytree(galaxy_raw, tmp_path / "raw")


def test_the_generated_tables_have_the_real_release_shapes(galaxy_raw):
    mapping = pd.read_csv(galaxy_raw / "gz2_filename_mapping.csv", dtype={"objid": str})
    hart16 = pd.read_csv(galaxy_raw / "gz2_hart16.csv", dtype={"dr7objid": str})
    assert list(mapping.columns) == ["objid", "sample", "asset_id"]
    assert set(mapping["sample"]) == {"original", "extra", "stripe82", "stripe82_coadd_1", "stripe82_coadd_2"}
    assert list(mapping["asset_id"]) == list(range(1, len(mapping) + 1))
    coadd_1, coadd_2 = (mapping[mapping["sample"] == name]["objid"].tolist() for name in
                        ("stripe82_coadd_1", "stripe82_coadd_2"))
    assert coadd_1 == coadd_2  # the co-adds image the same objects twice: objid is not unique
    main = mapping[mapping["sample"].isin(["original", "extra"])]
    assert main["objid"].is_unique and mapping["objid"].nunique() < len(mapping)
    assert set(main["objid"]) & set(mapping[mapping["sample"] == "stripe82"]["objid"])  # a galaxy in both
    assert hart16.shape[1] == 231 and list(hart16.columns[:9]) == [
        "dr7objid", "ra", "dec", "rastring", "decstring", "sample", "gz2_class", "total_classifications", "total_votes"]
    assert set(hart16["sample"]) <= {"original", "extra"}
    assert (hart16.set_index("dr7objid")["sample"].reindex(main["objid"]).dropna()
            == main.set_index("objid")["sample"].reindex(hart16["dr7objid"]).dropna()).all()


def test_the_join_uses_objid_and_sample_and_reports_what_it_left_out(galaxy_raw):
    mapping = pd.read_csv(galaxy_raw / "gz2_filename_mapping.csv", dtype={"objid": str})
    tables = build(galaxy_raw)
    used = set(tables.train["id"]) | set(tables.test["id"])
    main_assets = set(mapping[mapping["sample"].isin(["original", "extra"])]["asset_id"].astype(str))
    assert used <= main_assets  # never the Stripe 82 image of a main-sample galaxy
    other = mapping[~mapping["sample"].isin(["original", "extra"])]["sample"].value_counts()
    notes = tables.notes
    assert notes["joined"] == GALAXIES and notes["other_samples"] == other.sort_index().to_dict()
    assert notes["report"][:3] == [
        f"{GALAXIES} galaxies of gz2_hart16.csv matched to gz2_filename_mapping.csv by objid and sample",
        f"{other.sum()} row(s) of gz2_filename_mapping.csv from samples the Hart table does not cover left out "
        f"(stripe82 {other['stripe82']}, stripe82_coadd_1 {other['stripe82_coadd_1']}, stripe82_coadd_2 "
        f"{other['stripe82_coadd_2']})",
        "1 row(s) of gz2_hart16.csv have no image in gz2_filename_mapping.csv",
    ]


def test_a_hart_table_without_a_sample_column_joins_the_main_sample(raw):
    hart16 = pd.read_csv(raw / "gz2_hart16.csv", dtype={"dr7objid": str})
    hart16.drop(columns=["sample"]).to_csv(raw / "gz2_hart16.csv", index=False)
    tables = build(raw)
    assert tables.notes["joined"] == GALAXIES
    assert tables.notes["report"][0] == f"{GALAXIES} galaxies of gz2_hart16.csv matched to gz2_filename_mapping.csv by objid"


def test_a_galaxy_twice_in_one_sample_is_one_clear_error(raw):
    mapping = pd.read_csv(raw / "gz2_filename_mapping.csv", dtype={"objid": str})
    twice = pd.concat([mapping, mapping.iloc[[0]].assign(asset_id=len(mapping) + 1)])
    twice.to_csv(raw / "gz2_filename_mapping.csv", index=False)
    first = mapping.iloc[0]
    with pytest.raises(DataError) as error:
        build(raw)
    assert str(error.value) == (
        f"{raw / 'gz2_filename_mapping.csv'} has 2 rows for the same galaxy and sample (e.g. objid {first['objid']}, "
        f"sample {first['sample']}); one image per galaxy is expected: remove the duplicates")


def test_blank_or_non_numeric_asset_ids_are_skipped_and_counted(raw):
    mapping = pd.read_csv(raw / "gz2_filename_mapping.csv", dtype=str)
    mapping.loc[2, "asset_id"] = ""
    mapping.loc[5, "asset_id"] = "n/a"
    mapping.loc[7, "asset_id"] = "3.5"
    mapping.to_csv(raw / "gz2_filename_mapping.csv", index=False)
    tables = build(raw)
    assert tables.notes["skipped_bad_asset_id"] == 3
    assert "3 row(s) of gz2_filename_mapping.csv skipped: blank or non-numeric asset_id or objid (line 4, 7, 9)" in (
        tables.notes["report"])
    assert tables.notes["joined"] == GALAXIES - 3


def test_eighteen_digit_objids_are_matched_exactly_not_through_a_float(tmp_path):
    # 587722981736120347 and ...346 are the same float64: read as numbers, both would join both rows.
    raw = tmp_path / "raw"
    (raw / "images").mkdir(parents=True)
    from PIL import Image

    for asset in (1, 2):
        Image.new("RGB", (8, 8), (asset * 60, 0, 0)).save(raw / "images" / f"{asset}.jpg")
    pd.DataFrame({"objid": ["587722981736120347", "587722981736120346"], "sample": "original",
                  "asset_id": [1, 2]}).to_csv(raw / "gz2_filename_mapping.csv", index=False)
    pd.DataFrame({"dr7objid": ["587722981736120346", "587722981736120347"], "sample": "original",
                  "gz2_class": ["Sc", "Ei"], SMOOTH: [0.1, 0.9], FEATURES: [0.9, 0.1], STAR: [0, 0]}).to_csv(
        raw / "gz2_hart16.csv", index=False)
    tables = build(raw)
    labels = pd.concat([tables.train[["id", "label"]], tables.test_labels]).set_index("id")["label"].to_dict()
    assert labels == {"2": 1, "1": 0}


def test_min_vote_fraction_reads_the_vote_of_the_class_that_won(raw):
    hart16 = pd.read_csv(raw / "gz2_hart16.csv", dtype={"dr7objid": str})
    spirals = hart16["gz2_class"].str.startswith("S")
    # Spirals whose "smooth" vote is the largest: their own (features) vote is only 0.35.
    hart16.loc[spirals, [SMOOTH, FEATURES, STAR]] = [0.6, 0.35, 0.05]
    hart16.loc[~spirals & hart16["gz2_class"].str.startswith("E"), [SMOOTH, FEATURES, STAR]] = [0.55, 0.4, 0.05]
    hart16.to_csv(raw / "gz2_hart16.csv", index=False)
    plain, filtered = build(raw), build(raw, min_vote_fraction=0.5)
    train = plain.train.set_index("id")["label"]
    assert set(filtered.train["id"]) == set(train[train == 0].index)  # every spiral's winning vote is 0.35 < 0.5
    assert filtered.notes["dropped_low_confidence"] == int((train == 1).sum())
    assert list(filtered.test["id"]) == list(plain.test["id"])


def test_kit_prepare_reports_the_join(galaxy_raw, workspace_env):
    shutil.copytree(galaxy_raw, workspace_env.raw_dir(GALAXY))
    result = CliRunner().invoke(cli, ["prepare", GALAXY, "--image-size", "16", "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"labels: {GALAXIES} galaxies of gz2_hart16.csv matched to gz2_filename_mapping.csv by objid and sample" in lines
    assert any(line.startswith("labels: ") and "from samples the Hart table does not cover left out" in line
               for line in lines)


def test_the_hart_table_check_accepts_plain_and_gzip_and_refuses_the_rest(galaxy_raw, tmp_path, hart16_gz):
    from kaggle_kit.competitions.galaxy import check_hart16

    check_hart16(galaxy_raw / "gz2_hart16.csv")
    (tmp_path / "t.gz").write_bytes(hart16_gz)
    check_hart16(tmp_path / "t.gz")
    (tmp_path / "cut.gz").write_bytes(hart16_gz[: len(hart16_gz) // 2])
    (tmp_path / "other.csv").write_text("id,label\n1,0\n")
    with pytest.raises(DataError, match="^not a complete gzip file: EOFError$"):
        check_hart16(tmp_path / "cut.gz")
    with pytest.raises(DataError, match="^not the gz2_hart16 table: its header lacks dr7objid and gz2_class$"):
        check_hart16(tmp_path / "other.csv")
