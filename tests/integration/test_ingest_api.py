"""POST /api/v1/ingest: a feed adds a file as `hotspot ingest` would, once, within limits."""

from __future__ import annotations

import gzip

import pytest

from geo.access import load_roles
from geo.settings import DataPaths
from geo.store import Store

from .test_inbox import HEADER


def police_csv(n: int, prefix: str = "f") -> bytes:
    rows = [f"{prefix}{i:06d},2024-0{1 + i % 6},Lancashire Constabulary,Lancashire "
            f"Constabulary,{-2.70 + (i % 50) * 0.001:.4f},{53.76 + (i % 40) * 0.001:.4f},"
            "On or near Fishergate,E01025000,Preston 013A,Robbery,,\n" for i in range(n)]
    return (HEADER + "".join(rows)).encode()


@pytest.fixture
def app(tmp_path):
    from dashboard.access.accounts import Accounts
    from dashboard.app import create_app

    data = DataPaths(tmp_path)
    accounts = Accounts(data.access, load_roles(data.access / "roles.toml"))
    app = create_app(data)
    app.tokens = {role: accounts.create_token(f"{role}-t", role)
                  for role in ("feed", "analyst", "partner")}
    app.data = data
    return app


def post(app, role: str | None, body: bytes, name: str | None = None):
    headers = {"Authorization": f"Bearer {app.tokens[role]}"} if role else {}
    if name:
        headers["X-File-Name"] = name
    return app.server.test_client().post("/api/v1/ingest", data=body, headers=headers,
                                         content_type="application/octet-stream")


def stored(app) -> int:
    manifest = Store(app.data.store).manifest()
    return Store(app.data.store).read(columns=["incident_id"])[1].num_rows \
        if manifest.batches else 0


def test_a_feed_adds_a_file_once(app):
    first = post(app, "feed", gzip.compress(police_csv(30)), name="ed-2024-06.csv.gz")
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert (body["read"], body["accepted"], body["file"]) == (30, 30, "ed-2024-06.csv.gz")
    assert body["rejects_file"] is None
    again = post(app, "feed", gzip.compress(police_csv(30))).get_json()
    assert (again["accepted"], again["duplicates"]) == (0, 30)
    assert stored(app) == 30


def test_a_multipart_file_is_taken_too(app):
    import io

    resp = app.server.test_client().post(
        "/api/v1/ingest", headers={"Authorization": f"Bearer {app.tokens['feed']}"},
        data={"file": (io.BytesIO(police_csv(7)), "../../etc/feed.csv")},
        content_type="multipart/form-data")
    assert resp.status_code == 200 and resp.get_json()["accepted"] == 7
    assert resp.get_json()["file"] == "feed.csv"  # the folders are never used


def test_only_a_role_that_may_ingest_can(app):
    assert post(app, None, police_csv(3)).status_code == 401
    for role in ("analyst", "partner"):
        resp = post(app, role, police_csv(3))
        assert resp.status_code == 403 and "add incident files" in resp.get_json()["error"]
    assert stored(app) == 0


def test_a_gzip_that_expands_too_far_is_refused_before_anything_is_read(app, monkeypatch):
    monkeypatch.setenv("HOTSPOT_MAX_DECOMPRESSED_MB", "2")
    bomb = gzip.compress(b"0" * (3 << 20)) + gzip.compress(b"0")  # two members
    resp = post(app, "feed", bomb)
    assert resp.status_code == 400
    assert "expands to more than 2 MB" in resp.get_json()["error"]
    hidden = gzip.compress(b"x") + gzip.compress(b"0" * (3 << 20))  # the bomb in member two
    assert post(app, "feed", hidden).status_code == 400
    assert stored(app) == 0


def test_a_file_that_is_not_incidents_gets_a_plain_400(app):
    resp = post(app, "feed", b"\x00\x01 not a table")
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "file"
    assert "/tmp" not in resp.get_json()["error"]
    assert post(app, "feed", b"").get_json()["error"].startswith("no file was sent")


def test_an_upload_is_in_the_audit_log_with_its_counts(app):
    from dashboard.access.audit import AuditLog

    post(app, "feed", police_csv(4, prefix="a"))
    (entry,) = [e for e in AuditLog(app.data.audit).read() if e["action"] == "upload"]
    assert entry["who"] == "feed-t" and entry["status"] == 200
    assert entry["what"]["accepted"] == 4 and entry["what"]["file"] == "feed"
