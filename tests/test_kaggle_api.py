"""kaggle_api through the real, unpatched kaggle client against the stand-in server."""

from __future__ import annotations

import io
import json
import os
import re
import warnings

import pytest

from _fixtures_kaggle import CANCER_SLUG
from kaggle_kit import kaggle_api
from kaggle_kit.competitions import get_competition
from kaggle_kit.errors import CredentialsError, KaggleApiError, KitError, SubmissionError
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
    assert standin.requests == ["POST GetSubmissionLimits", "POST StartSubmissionUpload", "PUT upload",
                                "POST CreateSubmission", "POST GetSubmissionLimits"]
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
        f"Kaggle refused the submission of competition '{CANCER_SLUG}' (HTTP 403: Permission denied): accept the "
        f"competition's rules at https://www.kaggle.com/c/{CANCER_SLUG}/rules, then re-run"
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
    standin.fail("GetSubmissionLimits", 500, times=2)  # before and after the upload
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


# ---- the real service's failures, through the real client ---------------------------------------

def recording_policy(**overrides) -> tuple[RetryPolicy, list[float]]:
    """A policy whose waits are recorded, not slept (base 2 s: the production schedule)."""
    waits: list[float] = []
    values = dict(attempts=4, base_delay=2.0, rate_limit_wait=1800.0, read_timeout=0.5, sleep=waits.append)
    values.update(overrides)
    return RetryPolicy(**values), waits


def test_rate_limit_backs_off_for_minutes_and_distrusts_a_short_retry_after(standin, tmp_path, capsys):
    # Retry-After: 0 is wrong (kaggle-cli#938): kit waits 30 s, 60 s, 120 s..., and a long one is capped at 10 min.
    standin.fail("DownloadDataFiles", 429, times=3, retry_after="0", nested=True)
    standin.fail("DownloadDataFiles", 429, times=1, retry_after="3600", nested=True)
    policy, waits = recording_policy()
    kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False, retry=policy)
    assert waits == [30.0, 60.0, 120.0, 600.0]
    assert capsys.readouterr().err.splitlines()[0] == (
        f"Kaggle is rate-limiting the download of competition '{CANCER_SLUG}' (HTTP 429): waiting 0:30 before retrying")


def test_rate_limit_gives_up_after_its_patience_and_says_when_to_retry(standin, tmp_path):
    from datetime import datetime

    standin.fail("DownloadDataFiles", 429, times=20, nested=True, message="Too many requests")
    policy, waits = recording_policy(rate_limit_wait=1800.0, clock=lambda: datetime(2026, 3, 1, 14, 0))
    with pytest.raises(KaggleApiError) as error:
        kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False, retry=policy)
    assert waits == [30.0, 60.0, 120.0, 240.0, 480.0, 600.0]  # 25.5 min; one more 600 s would pass 30 min
    assert str(error.value) == (
        f"Kaggle kept rate-limiting the download of competition '{CANCER_SLUG}' (HTTP 429: Too many requests; "
        "7 attempts over 26 min): such limits can last 30 minutes or more; re-run after 14:30")


def test_a_countdown_on_a_terminal_counts_the_seconds_down():
    from kaggle_kit.retry import countdown

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen, waits = Terminal(), []
    countdown(2.5, "Kaggle is rate-limiting x (HTTP 429)", waits.append, screen)
    assert waits == [1.0, 1.0, 0.5]
    assert screen.getvalue().split("\r")[1:4] == [
        "Kaggle is rate-limiting x (HTTP 429): retrying in 0:03 ",
        "Kaggle is rate-limiting x (HTTP 429): retrying in 0:02 ",
        "Kaggle is rate-limiting x (HTTP 429): retrying in 0:01 ",
    ]


def test_a_stalled_transfer_is_cut_by_the_read_timeout_then_resumed(standin, cancer_archive, tmp_path):
    standin.stall("file")  # headers and half the zip, then silence with the socket open
    policy, _ = recording_policy()
    path = kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False, retry=policy)
    assert path.read_bytes() == cancer_archive
    assert standin.requests.count("POST DownloadDataFiles") == 2


def test_a_stalled_api_answer_is_retried(standin, cancer_archive, tmp_path):
    standin.stall("DownloadDataFiles")
    policy, _ = recording_policy()
    assert kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False,
                                               retry=policy).read_bytes() == cancer_archive


def test_a_transfer_that_keeps_stalling_ends_in_one_clear_line(standin, tmp_path):
    standin.stall("file", times=10)
    policy, _ = recording_policy(attempts=2)
    with pytest.raises(KaggleApiError) as error:
        kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False, retry=policy)
    assert str(error.value) == (
        f"Kaggle stopped answering during the download of competition '{CANCER_SLUG}' (nothing for 0.5 s, "
        "2 attempts): check the network connection, then re-run the same command to resume")
    assert (tmp_path / "dl" / f"{CANCER_SLUG}.zip.kaggle-partial").is_file()  # the next run resumes


def test_storage_links_are_cross_host_and_never_carry_the_api_key(standin, cancer_archive, tmp_path):
    # The storage stand-in answers 400 to a request carrying credentials: the download working proves none went.
    path = kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False, retry=FAST)
    assert path.read_bytes() == cancer_archive


def test_an_expired_storage_link_is_asked_for_again_not_taken_for_a_rules_problem(standin, tmp_path):
    standin.url_lifetime = -1  # every link has expired by the time it is fetched
    with pytest.raises(KaggleApiError) as error:
        kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False, retry=FAST)
    assert str(error.value) == (
        f"Kaggle's storage answered HTTP 403 (Request has expired) to the download of competition '{CANCER_SLUG}' "
        "(3 attempts): re-run later")
    assert standin.requests.count("POST DownloadDataFiles") == 3


def test_an_expired_link_once_is_replaced_by_a_fresh_one(standin, cancer_archive, tmp_path):
    standin.fail("file", 403, message="Request has expired")
    assert kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False,
                                               retry=FAST).read_bytes() == cancer_archive


# ---- authentication with an access token: a network call like any other --------------------------

@pytest.fixture
def token_env(standin, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", standin.token)
    return standin


def test_token_introspection_errors_are_retried_like_any_call(token_env, cancer_archive, tmp_path):
    token_env.fail("IntrospectToken", 503, times=2)
    path = kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False, retry=FAST)
    assert path.read_bytes() == cancer_archive
    assert token_env.requests.count("POST IntrospectToken") == 3


@pytest.mark.parametrize("status, expected", [
    (401, "Kaggle rejected the credentials from KAGGLE_API_TOKEN (HTTP 401): the key is wrong or expired; create a "
          "new token at https://www.kaggle.com/settings"),
    (500, f"Kaggle answered HTTP 500 to the download of competition '{CANCER_SLUG}' (3 attempts): the service is "
          "having trouble; re-run later"),
])
def test_token_introspection_failures_are_one_clear_line(token_env, tmp_path, status, expected):
    token_env.fail("IntrospectToken", status, times=10)
    with pytest.raises(KitError) as error:
        kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False, retry=FAST)
    assert str(error.value) == expected


def test_token_introspection_that_never_answers_is_cut_by_the_deadline(token_env, tmp_path):
    token_env.stall("IntrospectToken", times=10)
    policy, _ = recording_policy(attempts=2)
    with pytest.raises(KaggleApiError, match="^Kaggle stopped answering during the download of competition"):
        kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False, retry=policy)


def test_token_authentication_offline_says_so(token_env, monkeypatch, tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("http_proxy", closed)
    monkeypatch.setenv("HTTP_PROXY", closed)
    with pytest.raises(KaggleApiError) as error:
        kaggle_api.download_competition_zip(CANCER_SLUG, tmp_path / "dl", progress=False, retry=FAST)
    assert str(error.value) == (
        f"cannot reach Kaggle for the download of competition '{CANCER_SLUG}' (ProxyError): check the network "
        "connection, or set HTTPS_PROXY/HTTP_PROXY if you are behind a proxy")


# ---- submissions as the real service answers them -------------------------------------------------

def test_no_submission_left_today_is_refused_before_uploading(standin, submission):
    standin.daily_submissions = 1
    kaggle_api.submit_file(CANCER_SLUG, submission, "first", retry=FAST)
    before = len(standin.requests)
    with pytest.raises(SubmissionError) as error:
        kaggle_api.submit_file(CANCER_SLUG, submission, "second", retry=FAST)
    assert re.fullmatch(
        f"no submissions left today for competition '{CANCER_SLUG}' \\(Kaggle's daily limit is used up\\), so "
        "submission.csv was not uploaded: re-run after Kaggle resets the count at 00:00 UTC \\(\\d\\d:\\d\\d your "
        "time\\)", str(error.value))
    assert standin.requests[before:] == ["POST GetSubmissionLimits"]  # nothing was uploaded


def test_the_server_refusing_a_submission_over_the_limit_keeps_its_words(standin, submission):
    standin.daily_submissions = 0
    standin.fail("GetSubmissionLimits", 500, times=1)  # the check cannot tell: the server itself refuses
    with pytest.raises(KaggleApiError) as error:
        kaggle_api.submit_file(CANCER_SLUG, submission, "m", retry=FAST)
    assert str(error.value) == (
        f"Kaggle answered HTTP 400 to the submission of competition '{CANCER_SLUG}': Your team has used its 0 "
        "submissions for today; the count resets at 00:00 UTC")


def test_a_failed_upload_shows_what_the_client_printed_without_the_signed_url(standin, submission):
    standin.unusable_upload_url()
    with pytest.raises(SubmissionError) as error:
        kaggle_api.submit_file(CANCER_SLUG, submission, "m", retry=FAST)
    assert str(error.value) == (
        f"the upload of submission.csv to competition '{CANCER_SLUG}' failed (No connection adapters were found "
        "for 'gs://kaggle-submissions/…'), so nothing was submitted: re-run the upload")
    assert standin.submissions == []


def test_a_stalled_upload_is_cut_and_says_it_may_still_arrive(standin, submission):
    standin.stall("upload")
    policy, _ = recording_policy()
    with pytest.raises(SubmissionError) as error:
        kaggle_api.submit_file(CANCER_SLUG, submission, "m", retry=policy)
    assert str(error.value) == (
        f"Kaggle stopped answering the upload of submission.csv to competition '{CANCER_SLUG}' (nothing for 0.5 s): "
        "it may still arrive; check `kit submissions` before uploading again")


def test_listing_joins_pages_by_ref_when_the_server_ignores_page_size(standin, submission):
    standin.daily_submissions = 25
    for number in range(25):
        kaggle_api.submit_file(CANCER_SLUG, submission, f"s{number}", retry=FAST)
    standin.listing_page_size = 30  # kaggle-cli#899: pages of its own size whatever pageSize (20) asks
    rows = kaggle_api.list_submissions(CANCER_SLUG, retry=FAST)
    assert [row["ref"] for row in rows] == list(range(1024, 999, -1))
    assert standin.requests[-2:] == ["POST ListSubmissions", "POST ListSubmissions"]  # page 2 added nothing: stop


@pytest.mark.parametrize("credentials", ["key", "token"])
def test_a_read_only_home_does_not_stop_the_client(standin, read_only_folder, workspace_env, credentials):
    # The client creates its settings folder under HOME when first imported (and, with a token, signs in
    # over the network then): a fresh process shows what a user sees. kit imports it away from both.
    import subprocess
    import sys

    env = {**os.environ, **{k: v for k, v in standin.client_env(credentials=credentials).items() if v is not None},
           "HOME": str(read_only_folder)}
    for name in ("KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME", *(k for k, v in standin.client_env(
            credentials=credentials).items() if v is None)):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "kaggle_kit", "download", CANCER_SLUG, "--no-progress"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"Downloaded {CANCER_SLUG}: 62 files")
    assert list(read_only_folder.iterdir()) == []
    assert standin.requests.count("POST IntrospectToken") == (1 if credentials == "token" else 0)  # not at import


def test_a_stalled_sign_in_cannot_hang_the_import_in_a_fresh_process(standin, workspace_env, monkeypatch):
    import subprocess
    import sys

    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", standin.token)
    standin.stall("IntrospectToken", times=10)
    env = {**os.environ, "KIT_KAGGLE_RETRIES": "2"}
    done = subprocess.run([sys.executable, "-m", "kaggle_kit", "download", CANCER_SLUG, "--no-progress"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (1, (
        f"Error: Kaggle stopped answering during the download of competition '{CANCER_SLUG}' (nothing for 0.5 s, "
        "2 attempts): check the network connection, then re-run the same command to resume\n"))
