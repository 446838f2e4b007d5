"""The stand-in Kaggle server on the wire: auth, cross-host signed redirects, ranges, the faults the
real service shows (stalls, nested errors, limits, pages that ignore pageSize), env for the client."""

from __future__ import annotations

import base64
import http.client
import json
import os
from urllib.parse import parse_qs, urlsplit

import pytest

from kaggle_kit.standin import StandinKaggle, serve_locally, truncated, zip_entries
from kaggle_kit.standin.server import HART16_URL, STORAGE_HOST

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


def storage_path(location: str) -> str:
    return urlsplit(location).path + "?" + urlsplit(location).query


def redirect(server) -> str:
    response, _ = call(server, "POST", DOWNLOAD, {"competitionName": "demo-comp"})
    assert response.status == 302
    return response.getheader("Location")


def test_download_redirects_cross_host_to_a_signed_storage_url(server):
    location = redirect(server)
    parts = urlsplit(location)
    assert (parts.scheme, parts.hostname, parts.path) == ("http", STORAGE_HOST, "/files/competitions/demo-comp.zip")
    assert sorted(parse_qs(parts.query)) == ["Expires", "Signature"]
    whole, _ = call(server, "GET", location, auth=False)
    assert whole.status == 200 and whole.getheader("Accept-Ranges") == "bytes" and whole.read() == ARCHIVE


def test_storage_refuses_the_api_credentials_and_bad_or_expired_signatures(server):
    location = redirect(server)
    with_auth, _ = call(server, "GET", location)  # Basic auth, as a client that keeps it across hosts would
    assert with_auth.status == 400 and b"Multiple authentication methods" in with_auth.read()
    forged, _ = call(server, "GET", location.replace("Signature=", "Signature=0"), auth=False)
    assert forged.status == 403 and b"SignatureDoesNotMatch" in forged.read()
    server.url_lifetime = -1
    expired, _ = call(server, "GET", redirect(server), auth=False)
    assert expired.status == 403 and b"Request has expired" in expired.read()


def test_storage_honours_range_if_range_and_answers_416_past_the_end(server):
    location = redirect(server)
    first, _ = call(server, "GET", location, auth=False)
    etag = first.getheader("ETag")
    first.read()
    part, _ = call(server, "GET", location, headers={"Range": "bytes=10-", "If-Range": etag}, auth=False)
    assert part.status == 206 and part.read() == ARCHIVE[10:]
    assert part.getheader("Content-Range") == f"bytes 10-{len(ARCHIVE) - 1}/{len(ARCHIVE)}"
    changed, _ = call(server, "GET", location, headers={"Range": "bytes=10-", "If-Range": '"old"'}, auth=False)
    assert changed.status == 200 and changed.read() == ARCHIVE  # another object now: sent whole
    past, _ = call(server, "GET", location, headers={"Range": f"bytes={len(ARCHIVE)}-"}, auth=False)
    assert past.status == 416 and past.getheader("Content-Range") == f"bytes */{len(ARCHIVE)}"


def test_stalled_transfer_sends_half_then_nothing_with_the_socket_open(server):
    server.stall("file")
    location = redirect(server)
    connection = http.client.HTTPConnection(urlsplit(server.url).netloc, timeout=0.5)
    connection.request("GET", location)
    response = connection.getresponse()
    assert response.status == 200
    assert len(response.read(len(ARCHIVE) // 2)) == len(ARCHIVE) // 2
    with pytest.raises(TimeoutError):
        response.read(1)


def test_stalled_api_call_never_answers(server):
    server.stall("DownloadDataFiles")
    connection = http.client.HTTPConnection(urlsplit(server.url).netloc, timeout=0.5)
    connection.request("POST", DOWNLOAD, body=b"{}", headers={"Content-Type": "application/json"})
    with pytest.raises(TimeoutError):
        connection.getresponse()


def test_nested_error_body_is_kaggles_rate_limit_shape(server):
    server.fail("DownloadDataFiles", 429, nested=True, retry_after="0")
    response, _ = call(server, "POST", DOWNLOAD, {"competitionName": "demo-comp"})
    assert (response.status, response.getheader("Retry-After")) == (429, "0")
    assert json.loads(response.read()) == {
        "error": {"code": 429, "message": "Too many requests", "status": "RESOURCE_EXHAUSTED"}}


def test_galaxy_zoo_site_serves_its_file_with_ranges_and_faults(server):
    server.add_site_file(HART16_URL, b"0123456789")
    whole, _ = call(server, "GET", HART16_URL, auth=False)
    assert whole.status == 200 and whole.read() == b"0123456789"
    part, _ = call(server, "GET", HART16_URL, headers={"Range": "bytes=4-"}, auth=False)
    assert part.status == 206 and part.read() == b"456789"
    server.fail("site", 503)
    assert call(server, "GET", HART16_URL, auth=False)[0].status == 503
    assert call(server, "GET", HART16_URL.replace(".gz", ".zip"), auth=False)[0].status == 404


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
    response, _ = call(server, "GET", redirect(server), auth=False)
    assert int(response.getheader("Content-Length")) == len(ARCHIVE)
    with pytest.raises(http.client.IncompleteRead):
        response.read()


def test_three_step_upload_records_a_submission_and_lists_it(server):
    start = "/api/v1/competitions.CompetitionApiService/StartSubmissionUpload"
    answer = json.loads(call(server, "POST", start, {"competitionName": "demo-comp", "fileName": "s.csv"})[0].read())
    put, _ = call(server, "PUT", answer["createUrl"], b"a,b", auth=False)
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


def upload(server, competition="demo-comp") -> dict:
    start = "/api/v1/competitions.CompetitionApiService/StartSubmissionUpload"
    answer = json.loads(call(server, "POST", start, {"competitionName": competition, "fileName": "s.csv"})[0].read())
    call(server, "PUT", answer["createUrl"], b"a,b", auth=False)[0].read()
    create = "/api/v1/competitions.CompetitionApiService/CreateSubmission"
    response, _ = call(server, "POST", create, {"competitionName": competition, "blobFileTokens": answer["token"]})
    return {"status": response.status, **json.loads(response.read())}


def test_the_daily_submission_limit_is_enforced(server):
    server.daily_submissions = 2
    assert [upload(server)["status"] for _ in range(3)] == [200, 200, 400]
    limits = "/api/v1/competitions.CompetitionApiService/GetSubmissionLimits"
    assert json.loads(call(server, "POST", limits, {"competitionName": "demo-comp"})[0].read())["numAllowedNow"] == 0


def test_listing_that_ignores_page_size_returns_overlapping_pages(server):
    server.daily_submissions = 30
    refs = [upload(server)["ref"] for _ in range(30)]
    server.listing_page_size = 25
    listing = "/api/v1/competitions.CompetitionApiService/ListSubmissions"

    def page(number):
        body = {"competitionName": "demo-comp", "page": number, "pageSize": 10}
        return [row["ref"] for row in json.loads(call(server, "POST", listing, body)[0].read())["submissions"]]

    newest_first = refs[::-1]
    assert (page(1), page(2)) == (newest_first[:25], newest_first[10:30])


def test_an_unusable_upload_url_is_a_gs_url_with_a_signature(server):
    server.unusable_upload_url()
    start = "/api/v1/competitions.CompetitionApiService/StartSubmissionUpload"
    answer = json.loads(call(server, "POST", start, {"competitionName": "demo-comp", "fileName": "s.csv"})[0].read())
    assert answer["createUrl"].startswith("gs://kaggle-submissions/") and "X-Goog-Signature=" in answer["createUrl"]


def test_create_submission_without_a_finished_upload_is_refused(server):
    create = "/api/v1/competitions.CompetitionApiService/CreateSubmission"
    response, _ = call(server, "POST", create, {"competitionName": "demo-comp", "blobFileTokens": "unknown"})
    assert response.status == 400


def test_introspection_can_fail_like_any_call(server):
    introspect = "/api/v1/security.OAuthService/IntrospectToken"
    server.fail("IntrospectToken", 503)
    assert call(server, "POST", introspect, {"token": server.token}, auth=False)[0].status == 503
    assert call(server, "POST", introspect, {"token": server.token}, auth=False)[0].status == 200


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
    assert env["KIT_GZ2_HART16_URL"] == HART16_URL
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
