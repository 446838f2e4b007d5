"""kaggle_api through the real, unpatched kaggle client against the stand-in server."""

from __future__ import annotations

import json
import os
import warnings

import pytest

from _fixtures_kaggle import CANCER_SLUG
from kaggle_kit import kaggle_api
from kaggle_kit.competitions import get_competition
from kaggle_kit.errors import CredentialsError, KaggleApiError, SubmissionError
from kaggle_kit.kaggle_api import KaggleKeyPermissionWarning, RetryPolicy

FAST = RetryPolicy(attempts=3, base_delay=0.0)
WRONG_KEY = "f00dfeedf00dfeedf00dfeedf00dfeed"


def write_kaggle_json(folder, username, key, mode=0o600):
    path = write_private(folder / "kaggle.json", json.dumps({"username": username, "key": key}))
    path.chmod(mode)
    return path


@pytest.fixture
def submission(tmp_path):
    path = tmp_path / "submission.csv"
    path.write_text("id,label\nabc,0.5\n")
    return path


# ---- credentials ------------------------------------------------------------------------------

def test_no_credentials_is_one_error_naming_the_three_ways(kaggle_home):
    with pytest.raises(CredentialsError) as error:
        kaggle_api.find_credentials()
    assert str(error.value) == (
        f"no Kaggle credentials found: put kaggle.json in {kaggle_home / '.kaggle'}, or set KAGGLE_USERNAME and "
        "KAGGLE_KEY, or set KAGGLE_API_TOKEN; create a token at https://www.kaggle.com/settings"
    )


def test_no_credentials_fails_before_the_client_can_exit(kaggle_home, tmp_path):
    # The client calls exit(1) without credentials; the check comes first, so no SystemExit.
    with pytest.raises(CredentialsError, match="^no Kaggle credentials found"):
        kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", retry=FAST)
    assert not (tmp_path / "dl").exists()


def test_private_kaggle_json_is_found_without_warning(kaggle_home):
    path = write_kaggle_json(kaggle_home / ".kaggle", "me", "k" * 32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = kaggle_api.find_credentials()
    assert (found.kind, found.source, found.config_file) == ("key", str(path), path)


def test_kaggle_json_readable_by_others_warns_with_the_chmod_fix(kaggle_home):
    path = write_kaggle_json(kaggle_home / ".kaggle", "me", "k" * 32, mode=0o644)
    with pytest.warns(KaggleKeyPermissionWarning) as caught:
        kaggle_api.find_credentials()
    assert str(caught[0].message) == (
        f"{path} is readable by other users of this machine; make it private: chmod 600 {path}"
    )


def test_kaggle_json_in_xdg_config_home_when_there_is_no_dot_kaggle(kaggle_home, monkeypatch, tmp_path):
    monkeypatch.delenv("KAGGLE_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    path = write_kaggle_json(tmp_path / "xdg" / "kaggle", "me", "k" * 32)
    assert kaggle_api.find_credentials().source == str(path)


def test_environment_variables_are_credentials(kaggle_home, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "me")
    monkeypatch.setenv("KAGGLE_KEY", "k" * 32)
    assert kaggle_api.find_credentials().source == "KAGGLE_USERNAME/KAGGLE_KEY"


def test_access_token_from_variable_or_file(kaggle_home, monkeypatch):
    write_private(kaggle_home / ".kaggle" / "access_token", "KGAT_file\n")
    assert (kaggle_api.find_credentials().kind, kaggle_api.find_credentials().source) == (
        "token", str(kaggle_home / ".kaggle" / "access_token"))
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_variable")
    assert kaggle_api.find_credentials().source == "KAGGLE_API_TOKEN"


def write_private(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_malformed_kaggle_json_names_the_file_but_not_its_content(kaggle_home):
    text = '{"username": "me", "token": "s3cr3t-in-wrong-field"}'
    path = write_private(kaggle_home / ".kaggle" / "kaggle.json", text)
    with pytest.raises(CredentialsError) as error:
        kaggle_api.find_credentials()
    assert str(error.value) == (
        f'{path} does not hold Kaggle credentials ({{"username": ..., "key": ...}}): '
        "download a new kaggle.json from https://www.kaggle.com/settings"
    )


def test_malformed_kaggle_json_is_ignored_when_the_environment_has_credentials(kaggle_home, monkeypatch):
    write_private(kaggle_home / ".kaggle" / "kaggle.json", "not json")
    monkeypatch.setenv("KAGGLE_USERNAME", "me")
    monkeypatch.setenv("KAGGLE_KEY", "k" * 32)
    assert kaggle_api.find_credentials().source == "KAGGLE_USERNAME/KAGGLE_KEY"


def test_retry_policy_reads_the_environment_and_caps_its_delay():
    policy = RetryPolicy.from_env({"KIT_KAGGLE_RETRIES": "2", "KIT_KAGGLE_BACKOFF": "0.5"})
    assert (policy.attempts, policy.base_delay) == (2, 0.5)
    assert [policy.delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert RetryPolicy(max_delay=5).delay(10) == 5
    assert RetryPolicy().delay(1, retry_after=7.0) == 7.0
    with pytest.raises(KaggleApiError, match="KIT_KAGGLE_RETRIES must be an integer"):
        RetryPolicy.from_env({"KIT_KAGGLE_RETRIES": "many"})


# ---- the client against the stand-in ---------------------------------------------------------

def test_unwritable_download_folder_names_the_file(standin, tmp_path):
    folder = tmp_path / "dl"
    folder.mkdir()
    (folder / f"{CANCER_SLUG}.zip").mkdir()  # a folder where the zip should go: cannot be opened for writing
    with pytest.raises(KaggleApiError) as error:
        kaggle_api.download_competition_zip(CANCER_SLUG, folder, progress=False, retry=FAST)
    assert str(error.value) == (
        f"cannot write {folder / (CANCER_SLUG + '.zip')} during the download of competition '{CANCER_SLUG}' "
        "(Is a directory): check the folder's permissions, or point --data-dir elsewhere"
    )


def test_competition_zip_is_saved_byte_for_byte(standin, cancer_archive, tmp_path):
    path = kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False, retry=FAST)
    assert path == tmp_path / "dl" / f"{CANCER_SLUG}.zip"
    assert path.read_bytes() == cancer_archive
    assert not (tmp_path / "dl" / f"{CANCER_SLUG}.zip.kaggle-partial").exists()


def test_kaggle_json_credentials_reach_the_client(standin, kaggle_home, monkeypatch, tmp_path):
    # The client fixed its kaggle.json path at first import (another test's folder): kit points it at today's.
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    write_kaggle_json(kaggle_home / ".kaggle", standin.username, standin.key)
    path = kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False, retry=FAST)
    assert path.is_file()


def test_access_token_is_introspected_then_used(standin, monkeypatch, tmp_path):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", standin.token)
    kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False, retry=FAST)
    assert standin.requests[:2] == ["POST IntrospectToken", "POST DownloadDataFiles"]


def test_rejected_access_token_is_a_credentials_error_not_system_exit(standin, monkeypatch, tmp_path):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_expired")
    with pytest.raises(CredentialsError) as error:
        kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", retry=FAST)
    assert str(error.value) == (
        "Kaggle rejected the credentials from KAGGLE_API_TOKEN: they are invalid or expired; "
        "create a new token at https://www.kaggle.com/settings"
    )
    assert "KGAT_expired" not in str(error.value)


def test_wrong_key_is_401_and_the_key_appears_nowhere(standin, monkeypatch, tmp_path, capfd):
    monkeypatch.setenv("KAGGLE_KEY", WRONG_KEY)
    with pytest.raises(CredentialsError) as error:
        kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", retry=FAST)
    assert str(error.value) == (
        "Kaggle rejected the credentials from KAGGLE_USERNAME/KAGGLE_KEY (HTTP 401): the key is wrong or expired; "
        "create a new token at https://www.kaggle.com/settings"
    )
    out, err = capfd.readouterr()
    assert WRONG_KEY not in out + err + repr(error.value) + repr(kaggle_api.find_credentials())


def test_secrets_are_scrubbed_from_any_message():
    credentials = kaggle_api.Credentials("key", "env", None, secrets=(WRONG_KEY,))
    assert credentials.scrub(f"server said: bad key {WRONG_KEY}") == "server said: bad key ***"


def test_unreachable_server_names_proxies(standin, monkeypatch, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("http_proxy", closed)
    monkeypatch.setenv("HTTP_PROXY", closed)
    with pytest.raises(KaggleApiError) as error:
        kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", retry=FAST)
    assert str(error.value) == (
        f"cannot reach Kaggle for the download of competition '{CANCER_SLUG}' (ProxyError): check the network "
        "connection, or set HTTPS_PROXY/HTTP_PROXY if you are behind a proxy"
    )


def test_no_space_left_while_downloading_is_one_clear_error(standin, small_disk):
    with pytest.raises(KaggleApiError) as error:
        kaggle_api.download_competition_zip(CANCER_SLUG, small_disk / "dl", progress=False, retry=FAST)
    assert str(error.value) == (
        f"no space left on device while writing {small_disk / 'dl' / (CANCER_SLUG + '.zip')} during the download "
        f"of competition '{CANCER_SLUG}': free disk space or point --data-dir at a bigger disk"
    )


# ---- submissions ------------------------------------------------------------------------------

def test_submit_uploads_in_three_steps_and_reports_what_is_left_today(standin, submission):
    result = kaggle_api.submit_file(CANCER_SLUG, submission, "first try", retry=FAST)
    assert result == kaggle_api.SubmitResult(
        CANCER_SLUG, "submission.csv", f"Successfully submitted to {CANCER_SLUG}", 1000, 4)
    assert standin.requests == ["POST StartSubmissionUpload", "PUT upload", "POST CreateSubmission",
                                "POST GetSubmissionLimits"]
    assert standin.submissions[0]["content"] == submission.read_bytes()


def test_failed_upload_put_is_a_submission_error_never_success(standin, submission):
    standin.fail("upload", 500)
    with pytest.raises(SubmissionError) as error:
        kaggle_api.submit_file(CANCER_SLUG, submission, "m", retry=FAST)
    assert str(error.value) == (
        f"the upload of submission.csv to competition '{CANCER_SLUG}' failed (Kaggle's storage refused the "
        "file), so nothing was submitted: re-run the upload"
    )
    assert standin.submissions == []


def test_submit_before_accepting_the_rules_is_403_with_the_rules_link(standin, submission):
    standin.fail("StartSubmissionUpload", 403)
    with pytest.raises(KaggleApiError) as error:
        kaggle_api.submit_file(CANCER_SLUG, submission, "m", retry=FAST)
    assert str(error.value) == (
        f"Kaggle refused the submission of competition '{CANCER_SLUG}' (HTTP 403): accept the competition's rules "
        f"at https://www.kaggle.com/c/{CANCER_SLUG}/rules, then re-run"
    )


def test_submit_to_an_unknown_competition_is_404(standin, submission):
    with pytest.raises(KaggleApiError) as error:
        kaggle_api.submit_file("no-such-competition", submission, "m", retry=FAST)
    assert str(error.value) == (
        "competition 'no-such-competition' not found on Kaggle (HTTP 404) during the submission of competition "
        "'no-such-competition': check the slug (it is the last part of the competition's URL)"
    )


def test_submit_is_not_resent_after_a_server_error(standin, submission):
    standin.fail("CreateSubmission", 500, times=5)
    with pytest.raises(KaggleApiError, match=r"HTTP 500 .* \(1 attempt\)"):
        kaggle_api.submit_file(CANCER_SLUG, submission, "m", retry=FAST)
    assert standin.requests.count("POST CreateSubmission") == 1


def test_submit_is_retried_after_a_rate_limit(standin, submission):
    standin.fail("StartSubmissionUpload", 429)
    assert kaggle_api.submit_file(CANCER_SLUG, submission, "m", retry=FAST).ref == 1000
    assert standin.requests.count("POST StartSubmissionUpload") == 2


def test_unknown_daily_limit_does_not_fail_a_submission(standin, submission):
    standin.fail("GetSubmissionLimits", 500)
    assert kaggle_api.submit_file(CANCER_SLUG, submission, "m", retry=FAST).remaining_today is None


def test_list_submissions_newest_first_with_scores(standin, submission):
    standin.scorer = lambda competition, data: ("0.9123", "0.9001")
    kaggle_api.submit_file(CANCER_SLUG, submission, "first", retry=FAST)
    kaggle_api.submit_file(CANCER_SLUG, submission, "second", retry=FAST)
    rows = kaggle_api.list_submissions(CANCER_SLUG, retry=FAST)
    assert [(r["ref"], r["description"], r["status"], r["publicScore"], r["privateScore"], r["fileName"])
            for r in rows] == [(1001, "second", "COMPLETE", "0.9123", "0.9001", "submission.csv"),
                               (1000, "first", "COMPLETE", "0.9123", "0.9001", "submission.csv")]
    assert set(rows[0]) == set(kaggle_api.SUBMISSION_FIELDS)
    assert len(rows[0]["date"]) == len("2026-01-01 00:00:00")


def test_submissions_table_and_its_empty_case():
    rows = [{"ref": 7, "date": "2026-01-01 00:00:00", "status": "COMPLETE", "publicScore": "0.9",
             "privateScore": "", "fileName": "s.csv", "description": "m"}]
    assert kaggle_api.submissions_table(rows, "x") == (
        "ref  date                 status    public  private  file   description\n"
        "7    2026-01-01 00:00:00  COMPLETE  0.9              s.csv  m"
    )
    assert kaggle_api.submissions_table([], "x") == "No submissions yet to x."
    assert json.loads(kaggle_api.submissions_table(rows, "x", "json")) == [
        {"ref": 7, "fileName": "s.csv", "date": "2026-01-01 00:00:00", "description": "m", "status": "COMPLETE",
         "publicScore": "0.9", "privateScore": ""}]
    assert kaggle_api.submissions_table([], "x", "csv") == "ref,fileName,date,description,status,publicScore,privateScore"


def test_locally_scored_competition_has_no_kaggle_submissions():
    with pytest.raises(SubmissionError, match="^galaxy-zoo-2 has no Kaggle leaderboard"):
        kaggle_api.kaggle_competition_ref(get_competition("galaxy-zoo-2"))
    assert kaggle_api.kaggle_competition_ref(get_competition(CANCER_SLUG)) == CANCER_SLUG


def test_client_printing_is_swallowed(standin, submission, capfd):
    kaggle_api.submit_file(CANCER_SLUG, submission, "m", retry=FAST)
    out, _ = capfd.readouterr()
    assert out == ""
    assert os.environ["KAGGLE_API_ENVIRONMENT"] == "LOCALHOST"
