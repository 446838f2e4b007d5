"""``kit download`` and ``kit submissions`` through the real kaggle client and the stand-in server.

Every failure must leave nothing half-written: no ``raw`` folder, no manifest, no
staging folder.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import namedtuple

import pytest
from click.testing import CliRunner

from _fixtures_kaggle import CANCER_SLUG, GALAXY_DATASET, folder_files
from kaggle_kit.archive import human_bytes
from kaggle_kit.cli import cli
from kaggle_kit.standin import truncated, zip_entries

GALAXY = "galaxy-zoo-2"
DISK = namedtuple("DISK", "total used free")


@pytest.fixture
def cancer_zip(tmp_path, cancer_archive):
    """The cancer archive as a file, as a user who fetched it by hand would have it."""
    path = tmp_path / "c.zip"
    path.write_bytes(cancer_archive)
    return path


def kit(*args):
    return CliRunner().invoke(cli, list(args))


def download(*args):
    return kit("download", *args, "--no-progress")


def error_line(result) -> str:
    assert result.exit_code == 1, result.output
    return result.stderr.strip()


def assert_nothing_installed(workspace, slug):
    folder = workspace.competition_dir(slug)
    assert not (folder / "raw").exists()
    assert not (folder / "download.json").exists()
    assert not [p.name for p in folder.glob(".raw*")] if folder.exists() else True


def manifest(workspace, slug) -> dict:
    return json.loads((workspace.competition_dir(slug) / "download.json").read_text())


def file_set(root) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# ---- success ----------------------------------------------------------------------------------

def test_download_cancer_competition_through_the_real_client(standin, workspace_env, cancer_raw):
    result = download(CANCER_SLUG)
    raw = workspace_env.raw_dir(CANCER_SLUG)
    written = manifest(workspace_env, CANCER_SLUG)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Downloaded {CANCER_SLUG}: 62 files ({human_bytes(written['bytes'])}) into {raw}\n"
    assert file_set(raw) == file_set(cancer_raw)
    assert standin.requests == ["POST DownloadDataFiles", f"GET /files/competitions/{CANCER_SLUG}.zip"]
    assert written["source"] == f"competition:{CANCER_SLUG}"
    assert written["layout"] == {"train_images": 48, "test_images": 12}
    assert written["folders"]["train"]["files"] == 48 and written["files"] == 62
    assert not (workspace_env.competition_dir(CANCER_SLUG) / "download").exists()  # the zip is not kept


def test_download_galaxy_dataset_finds_its_files_wherever_they_sit(standin, workspace_env, galaxy_raw):
    result = download(GALAXY)
    assert result.exit_code == 0, result.output
    assert file_set(workspace_env.raw_dir(GALAXY)) == file_set(galaxy_raw)
    written = manifest(workspace_env, GALAXY)
    assert written["source"] == f"dataset:{GALAXY_DATASET}"
    assert (written["layout"]["mapping"], written["layout"]["hart16"]) == (
        "gz2_filename_mapping.csv", "gz2_hart16.csv")
    assert standin.requests == ["POST DownloadDataset", f"GET /files/datasets/{GALAXY_DATASET}.zip"]


def test_second_download_is_a_no_op_that_says_so(standin, workspace_env):
    download(CANCER_SLUG)
    before = len(standin.requests)
    result = download(CANCER_SLUG)
    written = manifest(workspace_env, CANCER_SLUG)
    assert result.exit_code == 0
    assert result.stdout == (
        f"{CANCER_SLUG} is already downloaded in {workspace_env.raw_dir(CANCER_SLUG)} (62 files, "
        f"{human_bytes(written['bytes'])}); use --force to download it again\n"
    )
    assert len(standin.requests) == before


def test_force_downloads_and_replaces_the_raw_folder(standin, workspace_env):
    download(CANCER_SLUG)
    stray = workspace_env.raw_dir(CANCER_SLUG) / "stray.txt"
    stray.write_text("left over")
    result = download(CANCER_SLUG, "--force")
    assert result.exit_code == 0, result.output
    assert not stray.exists()
    assert standin.requests.count("POST DownloadDataFiles") == 2


def test_from_zip_uses_a_hand_fetched_archive_without_the_api(kaggle_home, workspace_env, cancer_zip, cancer_archive):
    result = download(CANCER_SLUG, "--from-zip", str(cancer_zip))
    assert result.exit_code == 0, result.output
    assert manifest(workspace_env, CANCER_SLUG)["source"] == f"file:{cancer_zip.resolve()}"
    assert cancer_zip.read_bytes() == cancer_archive  # the user's file is left alone


def test_dataset_option_downloads_another_upload(standin, workspace_env, galaxy_archive):
    standin.add_dataset("someone/gz2-mirror", galaxy_archive)
    result = download(GALAXY, "--dataset", "someone/gz2-mirror")
    assert result.exit_code == 0, result.output
    assert manifest(workspace_env, GALAXY)["source"] == "dataset:someone/gz2-mirror"


def test_galaxy_dataset_without_hart16_asks_for_labels_then_reuses_the_zip(standin, workspace_env, galaxy_raw):
    standin.add_dataset(GALAXY_DATASET, zip_entries(folder_files(galaxy_raw, exclude=("gz2_hart16.csv",))))
    first = download(GALAXY)
    zip_path = workspace_env.competition_dir(GALAXY) / "download" / "galaxy-zoo-2-images.zip"
    assert error_line(first) == (
        f"Error: archive {zip_path}: gz2_hart16.csv(.gz) not found under its root; download it from the Galaxy Zoo "
        "data site (data.galaxyzoo.org) and pass it with --labels PATH"
    )
    assert_nothing_installed(workspace_env, GALAXY)
    second = download(GALAXY, "--labels", str(galaxy_raw / "gz2_hart16.csv"))
    assert second.exit_code == 0, second.output
    copied = workspace_env.raw_dir(GALAXY) / "gz2_hart16.csv"
    assert copied.read_bytes() == (galaxy_raw / "gz2_hart16.csv").read_bytes()
    assert standin.requests.count("POST DownloadDataset") == 1  # the complete zip was reused
    written = manifest(workspace_env, GALAXY)
    assert written["folders"]["gz2_hart16.csv"] == {"files": 1, "bytes": copied.stat().st_size}
    assert written["labels_file"] == str(galaxy_raw / "gz2_hart16.csv")


def test_raw_files_used_in_place_need_no_download(kaggle_home, workspace_env, tmp_path):
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    result = download(CANCER_SLUG, "--raw-dir", str(mounted))
    assert result.exit_code == 0
    assert result.stdout == f"{CANCER_SLUG}: the raw files are used in place from {mounted}; nothing to download\n"


def test_dataset_option_is_refused_for_a_competition(kaggle_home, workspace_env):
    assert error_line(download(CANCER_SLUG, "--dataset", "a/b")) == (
        f"Error: --dataset applies to dataset-backed competitions only; {CANCER_SLUG} is a Kaggle competition: "
        "drop --dataset"
    )


def test_dataset_option_must_be_owner_slug(kaggle_home, workspace_env):
    assert error_line(download(GALAXY, "--dataset", "just-a-slug")) == (
        "Error: dataset reference 'just-a-slug' is not owner/slug: pass e.g. --dataset "
        "jaimetrickz/galaxy-zoo-2-images"
    )


# ---- credentials and secrets --------------------------------------------------------------------

def test_no_credentials_is_one_line_and_no_client_help(kaggle_home, workspace_env):
    result = download(CANCER_SLUG)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: no Kaggle credentials found: put kaggle.json in {kaggle_home / '.kaggle'}, or set KAGGLE_USERNAME "
        "and KAGGLE_KEY, or set KAGGLE_API_TOKEN; create a token at https://www.kaggle.com/settings\n"
    )
    assert_nothing_installed(workspace_env, CANCER_SLUG)


def test_wrong_key_is_401_and_the_key_is_never_printed(standin, workspace_env, monkeypatch):
    secret = "0badc0de0badc0de0badc0de0badc0de"
    monkeypatch.setenv("KAGGLE_KEY", secret)
    result = download(CANCER_SLUG)
    assert error_line(result) == (
        "Error: Kaggle rejected the credentials from KAGGLE_USERNAME/KAGGLE_KEY (HTTP 401): the key is wrong or "
        "expired; create a new token at https://www.kaggle.com/settings"
    )
    assert secret not in result.output
    assert_nothing_installed(workspace_env, CANCER_SLUG)


def test_readable_kaggle_json_is_warned_about_on_stderr(standin, workspace_env, kaggle_home, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    path = kaggle_home / ".kaggle" / "kaggle.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"username": standin.username, "key": standin.key}))
    path.chmod(0o644)
    result = download(CANCER_SLUG)
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"Warning: {path} is readable by other users of this machine; make it private: chmod 600 {path}\n")
    assert standin.key not in result.output


# ---- HTTP failures ------------------------------------------------------------------------------

def test_rules_not_accepted_is_403_with_the_rules_link(standin, workspace_env):
    standin.fail("DownloadDataFiles", 403)
    assert error_line(download(CANCER_SLUG)) == (
        f"Error: Kaggle refused the download of competition '{CANCER_SLUG}' (HTTP 403): accept the competition's "
        f"rules at https://www.kaggle.com/c/{CANCER_SLUG}/rules, then re-run"
    )
    assert_nothing_installed(workspace_env, CANCER_SLUG)


def test_unknown_competition_is_404(standin, workspace_env):
    standin.fail("DownloadDataFiles", 404, message="Competition not found")
    assert error_line(download(CANCER_SLUG)) == (
        f"Error: competition '{CANCER_SLUG}' not found on Kaggle (HTTP 404) during the download of competition "
        f"'{CANCER_SLUG}': check the slug (it is the last part of the competition's URL)"
    )
    assert_nothing_installed(workspace_env, CANCER_SLUG)


def test_server_side_401_is_the_same_credentials_error(standin, workspace_env):
    standin.fail("DownloadDataset", 401)
    assert error_line(download(GALAXY)).startswith(
        "Error: Kaggle rejected the credentials from KAGGLE_USERNAME/KAGGLE_KEY (HTTP 401)")
    assert_nothing_installed(workspace_env, GALAXY)


def test_unknown_dataset_is_404(standin, workspace_env):
    assert error_line(download(GALAXY, "--dataset", "nobody/nothing")) == (
        "Error: dataset 'nobody/nothing' not found on Kaggle (HTTP 404): check the name, or pass the right one "
        "with --dataset owner/slug"
    )
    assert_nothing_installed(workspace_env, GALAXY)


def test_rate_limit_is_retried_with_backoff_then_fails_clearly(standin, workspace_env):
    standin.fail("DownloadDataFiles", 429, times=10)
    assert error_line(download(CANCER_SLUG)) == (
        f"Error: Kaggle kept rate-limiting the download of competition '{CANCER_SLUG}' (HTTP 429, 4 attempts): "
        "wait a few minutes and re-run"
    )
    assert standin.requests.count("POST DownloadDataFiles") == 4
    assert_nothing_installed(workspace_env, CANCER_SLUG)


def test_server_errors_then_success_is_retried(standin, workspace_env):
    standin.fail("DownloadDataFiles", 500, times=1)
    standin.fail("file", 503, times=1)
    result = download(CANCER_SLUG)
    assert result.exit_code == 0, result.output
    assert standin.requests.count("POST DownloadDataFiles") == 3


def test_persistent_server_error_fails_after_the_retries(standin, workspace_env):
    standin.fail("file", 500, times=10)
    assert error_line(download(CANCER_SLUG)) == (
        f"Error: Kaggle answered HTTP 500 to the download of competition '{CANCER_SLUG}' (4 attempts): the service "
        "is having trouble; re-run later"
    )
    assert_nothing_installed(workspace_env, CANCER_SLUG)


# ---- broken transfers and archives ----------------------------------------------------------------

def test_dropped_connection_is_resumed(standin, workspace_env, cancer_raw):
    standin.drop_connection()
    result = download(CANCER_SLUG)
    assert result.exit_code == 0, result.output
    assert file_set(workspace_env.raw_dir(CANCER_SLUG)) == file_set(cancer_raw)


def test_connection_that_keeps_dropping_keeps_the_partial_zip_for_the_next_run(standin, workspace_env):
    standin.drop_connection(times=10)
    folder = workspace_env.competition_dir(CANCER_SLUG) / "download"
    message = error_line(download(CANCER_SLUG))
    assert message.startswith(
        f"Error: the connection to Kaggle kept dropping during the download of competition '{CANCER_SLUG}' "
        "(4 attempts, last: ")
    assert message.endswith("): re-run the same command to resume")
    assert_nothing_installed(workspace_env, CANCER_SLUG)
    assert (folder / f"{CANCER_SLUG}.zip.kaggle-partial").is_file()  # the client's proof of what the part is
    standin.clear_faults()
    assert download(CANCER_SLUG).exit_code == 0


def test_complete_zip_left_by_an_interrupted_run_is_reused(standin, workspace_env, cancer_archive):
    folder = workspace_env.competition_dir(CANCER_SLUG) / "download"
    folder.mkdir(parents=True)
    (folder / f"{CANCER_SLUG}.zip").write_bytes(cancer_archive)
    assert download(CANCER_SLUG).exit_code == 0
    assert standin.requests == []


def test_unverifiable_zip_left_by_an_older_run_is_fetched_again(standin, workspace_env, cancer_archive):
    folder = workspace_env.competition_dir(CANCER_SLUG) / "download"
    folder.mkdir(parents=True)
    (folder / f"{CANCER_SLUG}.zip").write_bytes(truncated(cancer_archive))
    assert download(CANCER_SLUG).exit_code == 0
    assert standin.requests.count("POST DownloadDataFiles") == 1


def test_truncated_zip_is_refused_and_not_kept(standin, workspace_env, cancer_archive):
    standin.add_competition(CANCER_SLUG, truncated(cancer_archive))
    zip_path = workspace_env.competition_dir(CANCER_SLUG) / "download" / f"{CANCER_SLUG}.zip"
    assert error_line(download(CANCER_SLUG)) == (
        f"Error: {zip_path} is not a complete zip archive (File is not a zip file); re-run to download it again"
    )
    assert not zip_path.exists()
    assert_nothing_installed(workspace_env, CANCER_SLUG)


@pytest.mark.parametrize("member, reason", [
    ("../escaped.txt", "parent-folder path"),
    ("train/../../escaped.txt", "parent-folder path"),
    ("/tmp/kit-absolute-escape.txt", "absolute path"),
    ("C:/escaped.txt", "absolute path"),
])
def test_members_escaping_the_target_are_refused(kaggle_home, workspace_env, tmp_path, member, reason):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(zip_entries({"train_labels.csv": b"id,label\n", member: b"gotcha"}))
    assert error_line(download(CANCER_SLUG, "--from-zip", str(archive))) == (
        f"Error: {archive} holds an unsafe member '{member}' ({reason}, it would be written outside the data "
        "folder); nothing was extracted: get the archive from a trusted source"
    )
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not (tmp_path / "kit-absolute-escape.txt").exists()
    assert_nothing_installed(workspace_env, CANCER_SLUG)


def test_symlink_member_is_refused(kaggle_home, workspace_env, tmp_path):
    archive = tmp_path / "link.zip"
    archive.write_bytes(zip_entries({"train_labels.csv": b"id,label\n"}, symlinks={"train": "/etc"}))
    message = error_line(download(CANCER_SLUG, "--from-zip", str(archive)))
    assert "holds an unsafe member 'train' (symbolic link" in message
    assert_nothing_installed(workspace_env, CANCER_SLUG)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_corrupt_member_leaves_nothing(kaggle_home, workspace_env, tmp_path, cancer_raw, compression):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as packed:
        for name, data in folder_files(cancer_raw).items():
            packed.writestr(name, data)
    data = bytearray(buffer.getvalue())
    data[200:260] = bytes(b ^ 0xFF for b in data[200:260])  # inside the first member's bytes
    archive = tmp_path / "corrupt.zip"
    archive.write_bytes(bytes(data))
    message = error_line(download(CANCER_SLUG, "--from-zip", str(archive)))
    assert message.startswith(f"Error: {archive} is corrupt (")
    assert message.endswith("); the download was damaged: re-run with --force")
    assert_nothing_installed(workspace_env, CANCER_SLUG)


def free_space_reported(monkeypatch, free: int) -> None:
    monkeypatch.setattr("kaggle_kit.archive.shutil.disk_usage", lambda path: DISK(free, 0, free))


def test_too_little_free_space_fails_before_extracting(kaggle_home, workspace_env, cancer_zip, monkeypatch):
    free_space_reported(monkeypatch, 1 << 20)
    message = error_line(download(CANCER_SLUG, "--from-zip", str(cancer_zip)))
    assert message.startswith("Error: no space left on device for extracting c.zip: it needs ")
    assert message.endswith("1.0 MB is free; free space or use --data-dir on a bigger disk")
    assert_nothing_installed(workspace_env, CANCER_SLUG)


def test_disk_filling_up_during_extraction_leaves_nothing(kaggle_home, small_disk, cancer_zip, monkeypatch):
    # The disk looks roomy when checked, then fills up (as when another job writes to it meanwhile).
    free_space_reported(monkeypatch, 1 << 40)
    message = error_line(download(CANCER_SLUG, "--from-zip", str(cancer_zip), "--data-dir", str(small_disk)))
    assert message.startswith(
        f"Error: no space left on device while extracting c.zip into {small_disk / CANCER_SLUG} (needs ")
    assert list(small_disk.rglob("*")) == [small_disk / CANCER_SLUG]  # the staging folder is gone


def test_serve_locally_lets_download_run_with_no_account(kaggle_home, workspace_env, cancer_archive):
    from kaggle_kit.competitions import get_competition
    from kaggle_kit.download import download as download_data
    from kaggle_kit.standin import serve_locally

    with serve_locally(competitions={CANCER_SLUG: cancer_archive}) as server:
        result = download_data(get_competition(CANCER_SLUG), workspace_env, progress=False)
    assert (result.status, result.manifest["files"]) == ("downloaded", 62)
    assert server.requests[0] == "POST IntrospectToken"


# ---- submissions ----------------------------------------------------------------------------------

def test_submissions_lists_past_submissions(standin, tmp_path):
    from kaggle_kit.kaggle_api import submit_file

    path = tmp_path / "s.csv"
    path.write_text("id,label\n")
    submit_file(CANCER_SLUG, path, "first")
    result = kit("submissions", CANCER_SLUG)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ref", "date", "status", "public", "private", "file", "description"]
    assert lines[1].split()[0] == "1000" and lines[1].split()[3:] == ["PENDING", "s.csv", "first"]


def test_submissions_of_a_locally_scored_competition_points_to_the_leaderboard(kaggle_home):
    assert error_line(kit("submissions", GALAXY)) == (
        "Error: galaxy-zoo-2 has no Kaggle leaderboard (it is scored locally): see kit leaderboard galaxy-zoo-2"
    )
