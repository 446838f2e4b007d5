"""The stand-in Kaggle server on the wire: auth, redirects, ranges, injected faults, env for the client."""

from __future__ import annotations

import base64
import http.client
import json
import os
from urllib.parse import urlsplit

import pytest

from kaggle_kit.standin import StandinKaggle, serve_locally, truncated, zip_entries

DOWNLOAD = "/api/v1/competitions.CompetitionApiService/DownloadDataFiles"
ARCHIVE = zip_entries({"train_labels.csv": b"id,label\n" + b"a,1\n" * 200})


@pytest.fixture
def server():
    with StandinKaggle() as running:
        running.add_competition("demo-comp", ARCHIVE)
        yield running


def call(server, method, path, body=None, headers=None, auth=True):
    connection = http.client.HTTPConnection(urlsplit(server.url).netloc, timeout=5)
    headers = dict(headers or {})
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{server.username}:{server.key}".encode()).decode()
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    if isinstance(body, dict):
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    return response, connection


def test_api_call_without_credentials_is_401_with_a_json_message(server):
    response, _ = call(server, "POST", DOWNLOAD, {"competitionName": "demo-comp"}, auth=False)
    assert response.status == 401
    assert json.loads(response.read()) == {"code": 401, "message": "Unauthenticated"}


def test_download_redirects_to_the_zip_which_honours_range(server):
    response, _ = call(server, "POST", DOWNLOAD, {"competitionName": "demo-comp"})
    assert response.status == 302
    location = response.getheader("Location")
    assert location == "/files/competitions/demo-comp.zip"
    whole, _ = call(server, "GET", location, auth=False)
    assert whole.status == 200 and whole.getheader("Accept-Ranges") == "bytes" and whole.read() == ARCHIVE
    part, _ = call(server, "GET", location, headers={"Range": "bytes=10-"}, auth=False)
    assert part.status == 206 and part.read() == ARCHIVE[10:]


def test_unknown_competition_is_404(server):
    response, _ = call(server, "POST", DOWNLOAD, {"competitionName": "nope"})
    assert response.status == 404
    assert json.loads(response.read())["message"] == "Competition not found"


def test_fault_answers_the_next_calls_then_the_server_recovers(server):
    server.fail("DownloadDataFiles", 500, times=2)
    statuses = [call(server, "POST", DOWNLOAD, {"competitionName": "demo-comp"})[0].status for _ in range(3)]
    assert statuses == [500, 500, 302]


def test_rate_limit_fault_can_carry_retry_after(server):
    server.fail("DownloadDataFiles", 429, retry_after="0")
    response, _ = call(server, "POST", DOWNLOAD, {"competitionName": "demo-comp"})
    assert response.status == 429 and response.getheader("Retry-After") == "0"


def test_dropped_connection_sends_only_half_the_file(server):
    server.drop_connection()
    response, _ = call(server, "GET", "/files/competitions/demo-comp.zip", auth=False)
    assert int(response.getheader("Content-Length")) == len(ARCHIVE)
    with pytest.raises(http.client.IncompleteRead):
        response.read()


def test_three_step_upload_records_a_submission_and_lists_it(server):
    start = "/api/v1/competitions.CompetitionApiService/StartSubmissionUpload"
    answer = json.loads(call(server, "POST", start, {"competitionName": "demo-comp", "fileName": "s.csv"})[0].read())
    put, _ = call(server, "PUT", urlsplit(answer["createUrl"]).path, b"a,b", auth=False)
    put.read()
    assert put.status == 200
    create = "/api/v1/competitions.CompetitionApiService/CreateSubmission"
    body = {"competitionName": "demo-comp", "blobFileTokens": answer["token"], "submissionDescription": "first"}
    created = json.loads(call(server, "POST", create, body)[0].read())
    assert created["message"] == "Successfully submitted to demo-comp"
    listing = "/api/v1/competitions.CompetitionApiService/ListSubmissions"
    rows = json.loads(call(server, "POST", listing, {"competitionName": "demo-comp"})[0].read())["submissions"]
    assert [(r["ref"], r["fileName"], r["description"], r["status"]) for r in rows] == [
        (created["ref"], "s.csv", "first", "PENDING")
    ]


def test_create_submission_without_a_finished_upload_is_refused(server):
    create = "/api/v1/competitions.CompetitionApiService/CreateSubmission"
    response, _ = call(server, "POST", create, {"competitionName": "demo-comp", "blobFileTokens": "unknown"})
    assert response.status == 400


def test_access_token_is_introspected_and_accepted_as_bearer(server):
    introspect = "/api/v1/security.OAuthService/IntrospectToken"
    answer = json.loads(call(server, "POST", introspect, {"token": server.token}, auth=False)[0].read())
    assert answer == {"active": True, "username": server.username}
    bearer = {"Authorization": f"Bearer {server.token}"}
    response, _ = call(server, "POST", DOWNLOAD, {"competitionName": "demo-comp"}, headers=bearer, auth=False)
    assert response.status == 302


def test_proxy_mode_request_line_with_an_absolute_url_is_served(server):
    response, _ = call(server, "POST", "http://localhost" + DOWNLOAD, {"competitionName": "demo-comp"})
    assert response.status == 302


def test_client_env_points_the_client_here_and_unsets_no_proxy(server):
    env = server.client_env()
    assert env["KAGGLE_API_ENVIRONMENT"] == "LOCALHOST"
    assert env["http_proxy"] == env["HTTP_PROXY"] == server.url
    assert env["NO_PROXY"] is None and env["no_proxy"] is None and env["KAGGLE_API_TOKEN"] is None
    assert (env["KAGGLE_USERNAME"], env["KAGGLE_KEY"]) == (server.username, server.key)
    assert server.client_env(credentials="token")["KAGGLE_API_TOKEN"] == server.token


def test_serve_locally_sets_the_client_env_for_the_block_and_restores_it(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "localhost")
    monkeypatch.delenv("http_proxy", raising=False)
    with serve_locally(competitions={"demo-comp": ARCHIVE}) as server:
        assert os.environ["http_proxy"] == server.url
        assert os.environ["KAGGLE_API_TOKEN"] == server.token
        assert "NO_PROXY" not in os.environ
    assert os.environ["NO_PROXY"] == "localhost"
    assert "http_proxy" not in os.environ


def test_truncated_keeps_the_start_of_an_archive():
    assert truncated(ARCHIVE, 0.5) == ARCHIVE[: len(ARCHIVE) // 2]


def test_real_kaggle_cli_in_a_subprocess_downloads_through_client_env(server, kaggle_home, tmp_path):
    import subprocess
    import sys

    env = {**os.environ, **{k: v for k, v in server.client_env().items() if v is not None}}
    for name in (k for k, v in server.client_env().items() if v is None):
        env.pop(name, None)
    command = [sys.executable, "-m", "kaggle", "competitions", "download", "-c", "demo-comp", "-p", str(tmp_path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "demo-comp.zip").read_bytes() == ARCHIVE


def test_list_data_files_and_dataset_metadata_answer_like_kaggle(server):
    server.add_dataset("owner/data", ARCHIVE)
    listing = "/api/v1/competitions.CompetitionApiService/ListDataFiles"
    files = json.loads(call(server, "POST", listing, {"competitionName": "demo-comp"})[0].read())["files"]
    assert [(f["name"], f["totalBytes"]) for f in files] == [("train_labels.csv", len(b"id,label\n" + b"a,1\n" * 200))]
    metadata = "/api/v1/datasets.DatasetApiService/GetDatasetMetadata"
    info = json.loads(call(server, "POST", metadata, {"ownerSlug": "owner", "datasetSlug": "data"})[0].read())["info"]
    assert info["licenses"] == [{"name": "CC0-1.0"}]
    missing, _ = call(server, "POST", metadata, {"ownerSlug": "owner", "datasetSlug": "nope"})
    assert missing.status == 404
