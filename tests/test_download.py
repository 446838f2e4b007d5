"""``kit download`` and ``kit submissions`` through the real kaggle client and the stand-in server.

Every failure must leave nothing half-written: no ``raw`` folder, no manifest, no
staging folder.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import namedtuple

import pytest
from click.testing import CliRunner

from _fixtures_kaggle import CANCER_SLUG, GALAXY_DATASET, folder_files
from kaggle_kit.archive import human_bytes
from kaggle_kit.cli import cli
from kaggle_kit.standin import truncated, zip_entries
from kaggle_kit.standin.server import HART16_URL

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


def test_download_galaxy_dataset_fetches_the_hart_table_from_the_galaxy_zoo_site(standin, workspace_env, galaxy_raw,
                                                                                 hart16_gz):
    result = download(GALAXY)
    assert result.exit_code == 0, result.output
    raw = workspace_env.raw_dir(GALAXY)
    assert file_set(raw) == file_set(galaxy_raw) - {"gz2_hart16.csv"} | {"gz2_hart16.csv.gz"}
    assert (raw / "gz2_hart16.csv.gz").read_bytes() == hart16_gz
    written = manifest(workspace_env, GALAXY)
    assert written["source"] == f"dataset:{GALAXY_DATASET}"
    assert (written["layout"]["mapping"], written["layout"]["hart16"]) == (
        "gz2_filename_mapping.csv", "gz2_hart16.csv.gz")
    assert (written["labels_file"], written["labels_source"]) == (None, HART16_URL)
    assert standin.requests == ["POST DownloadDataset", f"GET /files/datasets/{GALAXY_DATASET}.zip",
                                "GET /gz2_hart16.csv.gz"]
    assert not (workspace_env.competition_dir(GALAXY) / "download").exists()


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


def test_hart_table_missing_from_the_site_asks_for_labels_then_reuses_the_zip(standin, workspace_env, galaxy_raw,
                                                                             monkeypatch):
    monkeypatch.setenv("KIT_GZ2_HART16_URL", HART16_URL.replace("gz2_hart16", "moved/gz2_hart16"))
    first = download(GALAXY)
    zip_path = workspace_env.competition_dir(GALAXY) / "download" / "galaxy-zoo-2-images.zip"
    assert error_line(first) == (
        "Error: gz2hart.standin.invalid answered HTTP 404 (Not Found) to the fetch of the Hart et al. 2016 table from "
        "http://gz2hart.standin.invalid/moved/gz2_hart16.csv.gz: download gz2_hart16.csv.gz by hand "
        "(data.galaxyzoo.org) and pass it with --labels PATH"
    )
    assert_nothing_installed(workspace_env, GALAXY)
    assert zip_path.is_file()
    second = download(GALAXY, "--labels", str(galaxy_raw / "gz2_hart16.csv"))
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith(f"Reusing the complete {zip_path} left by an earlier run (--force fetches it "
                                    "again)\nDownloaded galaxy-zoo-2: ")
    copied = workspace_env.raw_dir(GALAXY) / "gz2_hart16.csv"
    assert copied.read_bytes() == (galaxy_raw / "gz2_hart16.csv").read_bytes()
    assert standin.requests.count("POST DownloadDataset") == 1  # the complete zip was reused
    written = manifest(workspace_env, GALAXY)
    assert written["folders"]["gz2_hart16.csv"] == {"files": 1, "bytes": copied.stat().st_size}
    assert written["labels_file"] == str(galaxy_raw / "gz2_hart16.csv") and "labels_source" not in written


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

RULES = f"accept the competition's rules at https://www.kaggle.com/c/{CANCER_SLUG}/rules, then re-run"


@pytest.mark.parametrize("said, fix", [
    # Kaggle's own words (kaggle-cli#152, #555; roboflow/notebooks#19), kept, with the matching fix.
    ("You must accept this competition's rules before you'll be able to download files.", RULES),
    ("Permission 'competitions.participate' was denied", RULES),
    ("New entrants are currently not allowed. You will be able to accept the rules and submit late predictions "
     "after the competition completes.",
     "the competition does not accept new entrants now; its data and late submissions open once it completes "
     f"(https://www.kaggle.com/c/{CANCER_SLUG}/rules)"),
    ("Please verify your phone number to download data", "verify your Kaggle account (phone number) at "
     "https://www.kaggle.com/settings, then re-run"),
    ("Permission denied", RULES),
    ("Team is banned", f"check your access on https://www.kaggle.com/c/{CANCER_SLUG} (rules accepted, account "
     "verified), then re-run"),
])
def test_a_refusal_keeps_kaggles_own_words_and_gives_the_matching_fix(standin, workspace_env, said, fix):
    standin.fail("DownloadDataFiles", 403, message=said)
    assert error_line(download(CANCER_SLUG)) == (
        f"Error: Kaggle refused the download of competition '{CANCER_SLUG}' (HTTP 403: {said}): {fix}")
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


def test_a_lasting_rate_limit_is_waited_out_with_a_countdown_then_says_when_to_retry(standin, workspace_env):
    # Kaggle's nested body (kaggle-cli#931); the test's patience is 0.5 s: waits of 0.15 s and 0.3 s, then it stops.
    standin.fail("DownloadDataFiles", 429, times=10, nested=True)
    result = download(CANCER_SLUG)
    assert result.exit_code == 1
    waiting = (f"Kaggle is rate-limiting the download of competition '{CANCER_SLUG}' (HTTP 429): waiting 0:01 "
               "before retrying")
    *countdown, error = result.stderr.strip().splitlines()
    assert countdown == [waiting, waiting]
    assert re.fullmatch(
        f"Error: Kaggle kept rate-limiting the download of competition '{CANCER_SLUG}' \\(HTTP 429: Too many "
        "requests; 3 attempts over 0 s\\): such limits can last 30 minutes or more; re-run after \\d\\d:\\d\\d",
        error)
    assert standin.requests.count("POST DownloadDataFiles") == 3
    assert_nothing_installed(workspace_env, CANCER_SLUG)


def test_a_rate_limit_that_lifts_lets_the_download_finish(standin, workspace_env):
    standin.fail("DownloadDataFiles", 429, times=2, retry_after="0")
    result = download(CANCER_SLUG)
    assert result.exit_code == 0, result.output
    assert standin.requests.count("POST DownloadDataFiles") == 3


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


def test_a_partial_zip_of_an_archive_changed_since_is_fetched_whole_not_spliced(standin, workspace_env, cancer_raw,
                                                                               cancer_archive):
    standin.drop_connection(times=10)
    assert download(CANCER_SLUG).exit_code == 1  # the partial zip and the client's marker (old ETag) stay
    repacked = zip_entries(folder_files(cancer_raw))  # the same files, other bytes: a splice would not verify
    assert repacked != cancer_archive
    standin.add_competition(CANCER_SLUG, repacked)
    standin.clear_faults()
    result = download(CANCER_SLUG)
    assert result.exit_code == 0, result.output
    assert file_set(workspace_env.raw_dir(CANCER_SLUG)) == file_set(cancer_raw)


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
    assert message.endswith("); get the archive again (kit cannot repair it)")
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
    # the staging folder is gone; only the (empty) lock file stays
    assert sorted(small_disk.rglob("*")) == [small_disk / CANCER_SLUG, small_disk / CANCER_SLUG / ".download.lock"]


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


# ---- the Hart et al. table from the Galaxy Zoo data site -------------------------------------------

def test_the_hart_table_fetch_resumes_a_dropped_transfer(standin, workspace_env, hart16_gz):
    standin.fail("site", 503)  # and a 5xx is retried
    result = download(GALAXY)
    assert result.exit_code == 0, result.output
    assert (workspace_env.raw_dir(GALAXY) / "gz2_hart16.csv.gz").read_bytes() == hart16_gz
    assert standin.requests.count("GET /gz2_hart16.csv.gz") == 2


def test_a_partial_hart_table_left_by_a_killed_run_is_resumed_with_if_range(standin, workspace_env, hart16_gz):
    folder = workspace_env.competition_dir(GALAXY) / "download"
    folder.mkdir(parents=True)
    (folder / "gz2_hart16.csv.gz.partial").write_bytes(hart16_gz[:100])
    etag = '"' + __import__("hashlib").sha1(hart16_gz).hexdigest() + '"'
    (folder / "gz2_hart16.csv.gz.partial.json").write_text(json.dumps({"validator": etag, "size": len(hart16_gz)}))
    assert download(GALAXY).exit_code == 0
    assert (workspace_env.raw_dir(GALAXY) / "gz2_hart16.csv.gz").read_bytes() == hart16_gz


def test_a_partial_of_an_older_hart_table_is_not_spliced_onto_the_new_one(standin, workspace_env, hart16_gz):
    folder = workspace_env.competition_dir(GALAXY) / "download"
    folder.mkdir(parents=True)
    (folder / "gz2_hart16.csv.gz.partial").write_bytes(b"old bytes of another version" * 4)
    (folder / "gz2_hart16.csv.gz.partial.json").write_text(json.dumps({"validator": '"old"', "size": 1}))
    assert download(GALAXY).exit_code == 0  # If-Range named the old object: the server sent the new one whole
    assert (workspace_env.raw_dir(GALAXY) / "gz2_hart16.csv.gz").read_bytes() == hart16_gz


def test_a_partial_longer_than_the_hart_table_is_started_again_after_416(standin, workspace_env, hart16_gz):
    folder = workspace_env.competition_dir(GALAXY) / "download"
    folder.mkdir(parents=True)
    etag = '"' + __import__("hashlib").sha1(hart16_gz).hexdigest() + '"'
    (folder / "gz2_hart16.csv.gz.partial").write_bytes(hart16_gz + b"junk")
    (folder / "gz2_hart16.csv.gz.partial.json").write_text(json.dumps({"validator": etag, "size": len(hart16_gz)}))
    assert download(GALAXY).exit_code == 0
    assert (workspace_env.raw_dir(GALAXY) / "gz2_hart16.csv.gz").read_bytes() == hart16_gz


def test_a_stalled_hart_table_transfer_is_cut_and_resumed(standin, workspace_env, hart16_gz):
    standin.stall("site")
    result = download(GALAXY)
    assert result.exit_code == 0, result.output
    assert (workspace_env.raw_dir(GALAXY) / "gz2_hart16.csv.gz").read_bytes() == hart16_gz


def test_a_damaged_hart_table_is_refused_and_not_kept(standin, workspace_env, hart16_gz):
    from kaggle_kit.standin.server import HART16_URL

    standin.add_site_file(HART16_URL, hart16_gz[:-40])  # a gzip stream cut short: its CRC never checks out
    message = error_line(download(GALAXY))
    assert message == (
        f"Error: the Hart et al. 2016 table fetched from {HART16_URL} is damaged (not a complete gzip file: EOFError); "
        "re-run to fetch it again, or download gz2_hart16.csv.gz by hand (data.galaxyzoo.org) and pass it with "
        "--labels PATH")
    assert not list((workspace_env.competition_dir(GALAXY) / "download").glob("gz2_hart16*"))
    assert_nothing_installed(workspace_env, GALAXY)


def test_the_galaxy_zoo_site_unreachable_points_to_labels(kaggle_home, workspace_env, galaxy_archive, tmp_path):
    archive = tmp_path / "gz2.zip"
    archive.write_bytes(galaxy_archive)
    assert error_line(download(GALAXY, "--from-zip", str(archive))) == (
        "Error: cannot reach 127.0.0.1 to fetch the Hart et al. 2016 table (ConnectionError): check the network "
        "connection (HTTPS_PROXY/HTTP_PROXY behind a proxy), or download gz2_hart16.csv.gz by hand "
        "(data.galaxyzoo.org) and pass it with --labels PATH")
    assert_nothing_installed(workspace_env, GALAXY)


# ---- nothing the user made is deleted; one download at a time ----------------------------------------

def test_a_from_zip_archive_inside_raw_is_refused_and_kept(kaggle_home, workspace_env, cancer_archive):
    raw = workspace_env.raw_dir(CANCER_SLUG)
    raw.mkdir(parents=True)
    inside = raw / "histopathologic-cancer-detection.zip"
    inside.write_bytes(cancer_archive)
    for extra in ([], ["--force"]):
        assert error_line(download(CANCER_SLUG, "--from-zip", str(inside), *extra)) == (
            f"Error: --from-zip {inside} is inside {raw}, which kit download replaces: move the archive out first "
            f"(e.g. into {raw.parent}), then re-run")
        assert inside.read_bytes() == cancer_archive


def test_a_from_zip_archive_in_a_leftover_folder_is_refused_and_kept(kaggle_home, workspace_env, cancer_archive):
    leftover = workspace_env.competition_dir(CANCER_SLUG) / ".raw.k1ll3d.partial"
    leftover.mkdir(parents=True)
    inside = leftover / "c.zip"
    inside.write_bytes(cancer_archive)
    assert "which kit download replaces" in error_line(download(CANCER_SLUG, "--from-zip", str(inside)))
    assert inside.read_bytes() == cancer_archive


def test_a_raw_folder_kit_did_not_install_is_never_replaced_unasked(standin, workspace_env):
    raw = workspace_env.raw_dir(CANCER_SLUG)
    raw.mkdir(parents=True)
    (raw / "my-notes.txt").write_text("mine")
    assert error_line(download(CANCER_SLUG)) == (
        f"Error: {raw} already holds files that kit download did not install (there is no download.json): use "
        "them as they are (kit prepare reads them), move them away, or re-run with --force to replace them")
    assert (raw / "my-notes.txt").read_text() == "mine" and standin.requests == []
    assert download(CANCER_SLUG, "--force").exit_code == 0  # asked: replaced


def test_leftovers_of_a_killed_extraction_are_cleared_on_the_next_run(standin, workspace_env):
    folder = workspace_env.competition_dir(CANCER_SLUG)
    for name in (".raw.a1b2c3.partial", ".raw.old"):
        (folder / name / "train").mkdir(parents=True)
        (folder / name / "train" / "x.tif").write_bytes(b"\0" * 2048)
    (folder / ".download.json.x1y2.tmp").write_text("{")
    result = download(CANCER_SLUG)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"Removed 3 leftover(s) of an interrupted download from {folder}"
    assert sorted(p.name for p in folder.iterdir()) == [".download.lock", "download.json", "raw"]


def test_leftovers_held_by_a_running_download_are_left_alone(standin, workspace_env):
    from kaggle_kit.fsutil import locked

    folder = workspace_env.competition_dir(CANCER_SLUG)
    busy = folder / ".raw.busy.partial"
    busy.mkdir(parents=True)
    waited = []
    with locked(folder / ".download.lock"):  # another download is extracting into .raw.busy.partial
        import threading

        thread = threading.Thread(target=lambda: waited.append(download(CANCER_SLUG)))
        thread.start()
        thread.join(1.0)
        assert thread.is_alive() and busy.is_dir()  # the second one waits; the busy folder is untouched
    thread.join(30)
    assert waited[0].exit_code == 0 and not busy.exists()


def test_two_downloads_at_once_download_once(standin, workspace_env, tmp_path):
    import subprocess
    import sys
    import time

    env = {**__import__("os").environ, "KIT_KAGGLE_READ_TIMEOUT": "60"}
    standin.stall("DownloadDataFiles")  # the first download waits inside its lock until released
    command = [sys.executable, "-m", "kaggle_kit", "download", CANCER_SLUG, "--no-progress"]
    logs = [open(tmp_path / f"{n}.err", "w+") for n in (1, 2)]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=logs[0], text=True)
    wait_for(lambda: "POST DownloadDataFiles" in standin.requests)
    second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=logs[1], text=True)
    wait_for(lambda: "Waiting for another kit download" in (tmp_path / "2.err").read_text())
    standin.release_stalls()
    outputs = [process.communicate(timeout=120)[0] for process in (first, second)]
    assert [process.returncode for process in (first, second)] == [0, 0]
    assert outputs[0].startswith(f"Downloaded {CANCER_SLUG}: 62 files")
    assert outputs[1].startswith(f"{CANCER_SLUG} is already downloaded")
    assert (tmp_path / "2.err").read_text().startswith(f"Waiting for another kit download of {CANCER_SLUG} to finish…")
    assert manifest(workspace_env, CANCER_SLUG)["files"] == 62
    assert standin.requests.count("POST DownloadDataFiles") == 1


def wait_for(condition, limit: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.05)


# ---- folders that cannot be written, names no file system holds -------------------------------------

def test_a_data_dir_under_a_file_is_one_clear_error(kaggle_home, cancer_zip, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert error_line(download(CANCER_SLUG, "--from-zip", str(cancer_zip), "--data-dir", str(afile / "data"))) == (
        f"Error: {afile / 'data' / CANCER_SLUG} cannot be a folder: {afile} is a file; point --data-dir at a folder")


def test_a_read_only_data_dir_is_one_clear_error(kaggle_home, cancer_zip, read_only_folder):
    message = error_line(download(CANCER_SLUG, "--from-zip", str(cancer_zip), "--data-dir", str(read_only_folder)))
    assert re.fullmatch(f"Error: cannot write in {read_only_folder / CANCER_SLUG} \\((read-only file system|"
                        "permission denied)\\): point --data-dir at a writable folder", message)


@pytest.mark.parametrize("members, problem", [
    ({"train/a.tif": b"x", "train/a.tif/b.tif": b"y"}, "'train/a.tif' both as a file and as a folder"),
    ({"train_labels.csv": b"a", "train": b"b", "train/x.tif": b"c"}, "'train' both as a file and as a folder"),
    ({"x" * 300 + ".tif": b"x"}, "a member whose name is longer than the file system allows ('" + "x" * 40
     + "…' is 304 bytes; the limit is 255)"),
])
def test_names_no_file_system_can_hold_are_one_clear_error(kaggle_home, workspace_env, tmp_path, members, problem):
    archive = tmp_path / "odd.zip"
    archive.write_bytes(zip_entries(members))
    assert error_line(download(CANCER_SLUG, "--from-zip", str(archive))) == (
        f"Error: {archive} holds {problem}; nothing was extracted: extract it by hand, fixing that name, and pass "
        "the repacked archive with --from-zip")
    assert_nothing_installed(workspace_env, CANCER_SLUG)


def test_a_name_appearing_twice_is_refused(kaggle_home, workspace_env, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as packed, pytest.warns(UserWarning, match="Duplicate name"):
        packed.writestr("train_labels.csv", "id,label\n")
        packed.writestr("train_labels.csv", "id,label\na,1\n")
    archive = tmp_path / "twice.zip"
    archive.write_bytes(buffer.getvalue())
    assert "holds 'train_labels.csv' twice" in error_line(download(CANCER_SLUG, "--from-zip", str(archive)))


def test_a_path_too_long_for_the_file_system_is_one_clear_error(kaggle_home, workspace_env, tmp_path):
    deep = "/".join(["d" * 200] * 25) + "/x.tif"  # each part fits; the whole path (5 KB) does not
    archive = tmp_path / "deep.zip"
    archive.write_bytes(zip_entries({deep: b"x"}))
    message = error_line(download(CANCER_SLUG, "--from-zip", str(archive)))
    assert message.startswith(f"Error: cannot extract '{deep}' of {archive} into ")
    assert message.endswith("(File name too long); nothing was kept: the path is too long for this file system: use "
                            "a shorter --data-dir")
    assert_nothing_installed(workspace_env, CANCER_SLUG)


def test_a_fifo_given_as_the_archive_is_refused_not_waited_on(kaggle_home, workspace_env, tmp_path):
    import os

    fifo = tmp_path / "c.zip"
    os.mkfifo(fifo)
    assert error_line(download(CANCER_SLUG, "--from-zip", str(fifo))) == (
        f"Error: {fifo} is a FIFO (named pipe), not a zip archive; pass the archive's own path")
