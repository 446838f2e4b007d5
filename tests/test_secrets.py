"""No credential is ever printed, logged or written, whatever its shape: through `kit download`,
`kit submit --upload`, `kit submissions`, `kit doctor`, and files pointed at by mistake."""

from __future__ import annotations

import base64
import json
import re

import pytest
from click.testing import CliRunner

from _fixtures_kaggle import CANCER_SLUG
from kaggle_kit.cli import cli
from kaggle_kit.secrets import Scrubber, known_secrets, secret_forms

GALAXY = "galaxy-zoo-2"
LONG_TOKEN = "KGAT_" + "a1b2c3d4" * 40  # 325 characters: longer than a file name may be
SHAPES = {
    "crlf": "KGAT_0123456789abcdef0123456789ab\r",
    "lf": "KGAT_0123456789abcdef0123456789ab\n",
    "space": " KGAT_0123456789abcdef0123456789ab",
    "inner-space": "KGAT_0123456789 abcdef0123456789ab",
    "control": "KGAT_0123456789\x07abcdef0123456789ab",
    "non-ascii": "KGAT_0123456789éabcdef0123456789ab",
}


def every_form(secret: str) -> set[str]:
    """The secret and any piece of it a message could show (≥ 12 characters)."""
    core = secret.strip()
    return secret_forms(secret) | {core[i:i + 12] for i in range(0, max(len(core) - 12, 0) + 1, 6)}


def assert_never_shown(secret: str, *texts: str) -> None:
    for text in texts:
        for form in every_form(secret):
            assert form not in text, f"{form!r} leaked"


def kit(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def submission_csv(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("id,label\n")
    return path


# ---- KAGGLE_API_TOKEN of every shape --------------------------------------------------------------

@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("command", [
    ("download", CANCER_SLUG, "--no-progress"),
    ("submissions", CANCER_SLUG),
])
def test_a_malformed_token_is_one_error_that_never_shows_it(standin, workspace_env, monkeypatch, shape, command):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", SHAPES[shape])
    result = kit(*command)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: KAGGLE_API_TOKEN ")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert_never_shown(SHAPES[shape], result.output)
    assert standin.requests == []  # refused before the client could send it anywhere


def test_a_crlf_token_says_what_to_remove(standin, workspace_env, monkeypatch):
    monkeypatch.setenv("KAGGLE_API_TOKEN", SHAPES["crlf"])
    assert kit("download", CANCER_SLUG).stderr == (
        "Error: KAGGLE_API_TOKEN contains a line break (\\r or \\n, as an env file saved with Windows line endings "
        "leaves behind): remove it\n")


@pytest.mark.parametrize("command", [("download", CANCER_SLUG), ("submissions", CANCER_SLUG), ("doctor",)])
def test_a_token_too_long_for_a_path_is_never_printed_in_an_os_error(standin, workspace_env, monkeypatch, command):
    monkeypatch.setattr("kaggle_kit.doctor.tensorflow_checks", lambda: [])  # not what is tested, and slow
    monkeypatch.setenv("KAGGLE_API_TOKEN", LONG_TOKEN)
    result = kit(*command)
    assert_never_shown(LONG_TOKEN, result.output)
    message = ("KAGGLE_API_TOKEN is 325 characters long; the kaggle client first tests it as a file path, which "
               "fails for a value that long: save the token in ~/.kaggle/access_token (chmod 600) and unset "
               "KAGGLE_API_TOKEN")
    if command == ("doctor",):
        assert f"fix: {message}" in result.stdout
    else:
        assert result.stderr == f"Error: {message}\n"


def test_a_long_token_saved_as_advised_works(standin, workspace_env, monkeypatch, kaggle_home):
    # The client reads ~/.kaggle/access_token; the stand-in accepts the long token there.
    standin.token = LONG_TOKEN
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    (kaggle_home / ".kaggle").mkdir()
    (kaggle_home / ".kaggle" / "access_token").write_text(LONG_TOKEN + "\r\n")
    result = kit("download", CANCER_SLUG, "--no-progress")
    assert result.exit_code == 0, result.output
    assert_never_shown(LONG_TOKEN, result.output)


def test_the_token_submit_upload_path_refuses_a_crlf_token(standin, monkeypatch, submission_csv):
    from kaggle_kit import kaggle_api
    from kaggle_kit.errors import CredentialsError

    monkeypatch.setenv("KAGGLE_API_TOKEN", SHAPES["crlf"])
    with pytest.raises(CredentialsError) as error:
        kaggle_api.submit_file(CANCER_SLUG, submission_csv, "m")
    assert_never_shown(SHAPES["crlf"], str(error.value), repr(error.value))
    assert standin.submissions == []


@pytest.mark.parametrize("variable", ["KAGGLE_KEY", "KAGGLE_USERNAME"])
def test_a_key_or_username_with_a_line_break_is_refused_naming_the_variable(standin, workspace_env, monkeypatch,
                                                                            variable):
    value = ("0badc0de" * 4 if variable == "KAGGLE_KEY" else "kit-standin-user") + "\r\n"
    monkeypatch.setenv(variable, value)
    result = kit("download", CANCER_SLUG)
    assert result.stderr.startswith(f"Error: {variable} contains a line break")
    assert_never_shown(value, result.output)


def test_a_kaggle_json_key_with_a_line_break_names_the_file_not_the_key(standin, workspace_env, monkeypatch,
                                                                        kaggle_home):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    path = kaggle_home / ".kaggle" / "kaggle.json"
    path.parent.mkdir()
    key = "0badc0de" * 4 + "\r\n"
    path.write_text(json.dumps({"username": "me", "key": key}))
    path.chmod(0o600)
    result = kit("download", CANCER_SLUG)
    assert result.stderr == f'Error: the "key" in {path} contains a line break (\\r or \\n, as an env file saved ' \
                            "with Windows line endings leaves behind): remove it\n"
    assert_never_shown(key, result.output)


def test_an_unreadable_token_file_is_named_with_the_fix(standin, workspace_env, monkeypatch, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_bytes(b"\xff\xfe" + b"KGAT_secret" * 4)
    monkeypatch.setenv("KAGGLE_API_TOKEN", str(token_file))
    assert kit("download", CANCER_SLUG).stderr == (
        f"Error: cannot read the access token file {token_file} (not UTF-8 text): save the token from "
        "https://www.kaggle.com/settings there as plain text\n")


# ---- the same secret in every spelling ---------------------------------------------------------------

def test_every_spelling_of_a_secret_is_scrubbed():
    token = "KGAT_0123456789abcdef0123456789ab\r"
    basic = base64.b64encode(b"me:0badc0de0badc0de0badc0de0badc0de").decode()
    scrub = Scrubber([token, "0badc0de0badc0de0badc0de0badc0de", basic])
    texts = [
        "Invalid header value: 'Bearer KGAT_0123456789abcdef0123456789ab\\r'",  # requests' InvalidHeader
        '{"token": "KGAT_0123456789abcdef0123456789ab\\r"}',  # a JSON body
        "token=KGAT_0123456789abcdef0123456789ab%0D",  # a query string
        f"Authorization: Basic {basic}",  # a verbose request dump
        "key KGAT_0123456789abcdef0…",  # a display that cut it short
    ]
    for text in texts:
        assert "KGAT_0123456789abcdef" not in scrub(text) and basic not in scrub(text), scrub(text)


def test_known_secrets_gathers_every_credential_on_the_machine(tmp_path):
    home = tmp_path / "home"
    (home / ".kaggle").mkdir(parents=True)
    (home / ".kaggle" / "kaggle.json").write_text(json.dumps({"username": "me", "key": "json-key-0123456789"}))
    (home / ".kaggle" / "access_token").write_text("KGAT_file_token_0123\n")
    env = {"HOME": str(home), "KAGGLE_KEY": "env-key-0123456789", "KAGGLE_API_TOKEN": LONG_TOKEN,
           "HTTPS_PROXY": "http://proxyuser:pr0xy-p%40ss@proxy:3128"}
    found = known_secrets(env)
    for secret in ("json-key-0123456789", "KGAT_file_token_0123", "env-key-0123456789", LONG_TOKEN, "pr0xy-p@ss"):
        assert secret in found


# ---- files pointed at by mistake, and every error on its way out ---------------------------------------

def test_kaggle_json_given_as_a_labels_file_is_never_echoed(galaxy_raw, workspace_env, kaggle_home):
    import shutil

    shutil.copytree(galaxy_raw, workspace_env.raw_dir(GALAXY))
    key = "0badc0de" * 4
    path = kaggle_home / "kaggle.json"
    path.write_text(json.dumps({"username": "someone", "key": key}))
    result = kit("prepare", GALAXY, "--labels", str(path), "--image-size", "16")
    assert result.stderr == (
        f"Error: {path} lacks column(s) dr7objid, gz2_class (its first line is not shown: 2 field(s) that do not "
        "look like column names); fix the header or pass the right file\n")
    assert_never_shown(key, result.output)


@pytest.mark.parametrize("first_line", [
    "0badc0de" * 4,  # a legacy key saved alone
    "KGAT_0123456789abcdef0123456789abcdef",  # an access token file
    "xQzvKpLmNwRtYbHcJdGfSa",  # random letters
    "ghp_aBcD1234eFgH5678iJkL9012mNoP3456",  # any other service's token
])
def test_a_token_file_given_as_a_labels_file_is_never_echoed(first_line, galaxy_raw, workspace_env, tmp_path):
    """Only what looks like column names is quoted: a secret this machine does not know (so cannot
    scrub) is kept out of the message by its shape."""
    import shutil

    shutil.copytree(galaxy_raw, workspace_env.raw_dir(GALAXY))
    path = tmp_path / "token.txt"
    path.write_text(first_line + "\n")
    result = kit("prepare", GALAXY, "--labels", str(path), "--image-size", "16")
    assert result.exit_code == 1
    assert "its first line is not shown: 1 field(s) that do not look like column names" in result.stderr
    assert_never_shown(first_line, result.output)


def test_any_error_on_its_way_out_is_scrubbed_of_known_secrets(galaxy_raw, workspace_env, kaggle_home, monkeypatch):
    import shutil

    shutil.copytree(galaxy_raw, workspace_env.raw_dir(GALAXY))
    key = "plain_words_that_are_the_key"  # shaped like a column name, so only the scrubber can hide it
    monkeypatch.setenv("KAGGLE_KEY", key)
    labels = kaggle_home / "labels.csv"
    labels.write_text(f"me,{key}\n1,2\n")  # a header made of plain names, one of them the key
    result = kit("prepare", GALAXY, "--labels", str(labels), "--image-size", "16")
    assert result.stderr == (f"Error: {labels} lacks column(s) dr7objid, gz2_class (has: me, ***); fix the header or "
                             "pass the right file\n")


def test_download_json_never_records_a_credential_of_the_hart_table_url(standin, workspace_env, monkeypatch):
    from kaggle_kit.standin.server import HART16_URL

    signed = HART16_URL.replace("http://", "http://someone:s3cr3t-pass@") + "?X-Amz-Signature=deadbeef0123456789"
    monkeypatch.setenv("KIT_GZ2_HART16_URL", signed)
    result = kit("download", GALAXY, "--no-progress")
    assert result.exit_code == 0, result.output
    written = (workspace_env.competition_dir(GALAXY) / "download.json").read_text()
    assert json.loads(written)["labels_source"] == HART16_URL
    assert not re.search("s3cr3t-pass|deadbeef", written + result.output)


def test_a_verbose_client_dump_never_reaches_a_message(standin, monkeypatch, tmp_path):
    # VERBOSE=1 makes the client print every request with its headers (read at import: a fresh process).
    import os
    import subprocess
    import sys

    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", standin.token)
    standin.unusable_upload_url()
    csv = tmp_path / "s.csv"
    csv.write_text("id,label\n")
    script = ("import sys\nfrom pathlib import Path\nfrom kaggle_kit import kaggle_api\n"
              f"try:\n    kaggle_api.submit_file({CANCER_SLUG!r}, Path({str(csv)!r}), 'm')\n"
              "except Exception as exc:\n    print('ERROR', exc)\n")
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "VERBOSE": "1"}, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.startswith("ERROR the upload of s.csv to competition"), done.stdout + done.stderr
    assert_never_shown(standin.token, done.stdout, done.stderr)


def test_kaggle_json_given_as_the_hart_table_is_never_copied_into_the_data(standin, workspace_env, kaggle_home):
    key = "badc0de0" * 4
    path = kaggle_home / "kaggle.json"
    path.write_text(json.dumps({"username": "someone", "key": key}))
    result = kit("download", GALAXY, "--labels", str(path), "--no-progress")
    assert result.stderr == (
        f"Error: --labels {path} is not the gz2_hart16 table: its header lacks dr7objid and gz2_class; pass "
        "gz2_hart16.csv or gz2_hart16.csv.gz (from data.galaxyzoo.org)\n")
    assert not [p for p in workspace_env.data_dir.rglob("*") if p.is_file() and key in p.read_text(errors="ignore")]
    assert not workspace_env.raw_dir(GALAXY).exists()  # the zip is kept for the re-run with the right table
