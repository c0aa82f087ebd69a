"""``hotspot users`` and ``hotspot tokens`` end to end, as an administrator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.access.accounts import Accounts, SignInFailed
from geo.access import load_roles

HOTSPOT = str(Path(sys.executable).with_name("hotspot"))
PASSWORD = "correct horse battery"


def run(*args: str, data: Path, stdin: str = ""):
    return subprocess.run([HOTSPOT, *args, "--data-dir", str(data)], input=stdin,
                          capture_output=True, text=True, timeout=300, env=os.environ.copy())


def accounts(data: Path) -> Accounts:
    return Accounts(data / "access", load_roles(data / "access" / "roles.toml"))


def refused(proc, says: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1  # one plain line


@pytest.mark.parametrize("sub", ["users", "tokens"])
def test_help(sub, tmp_path):
    proc = subprocess.run([HOTSPOT, sub, "--help"], capture_output=True, text=True, check=True)
    assert "--data-dir" in proc.stdout


def test_add_user_from_stdin_and_list_without_secrets(tmp_path):
    added = run("users", "add", "alice", "--role", "officer", "--areas", "E07000123",
                data=tmp_path, stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    listed = run("users", "list", data=tmp_path)
    assert listed.returncode == 0
    [row] = [line for line in listed.stdout.splitlines() if line.startswith("alice")]
    assert "officer" in row and "E07000123" in row and "active" in row
    assert "argon2" not in listed.stdout and PASSWORD not in listed.stdout
    assert accounts(tmp_path).check_password("alice", PASSWORD).areas == ("E07000123",)


@pytest.mark.parametrize(("args", "stdin", "says"), [
    (["--role", "wizard"], PASSWORD, "'wizard' is not a role; the roles are admin"),
    (["--role", "officer", "--areas", "E07000123,E99999999"], PASSWORD,
     "'E99999999' is not an area code"),
    (["--role", "officer"], "too short", "at least 12 characters"),
    (["--role", "officer"], "", "no password was given"),
], ids=["unknown-role", "unknown-area", "short-password", "no-password"])
def test_add_user_refusals_are_one_line_and_exit_2(tmp_path, args, stdin, says):
    refused(run("users", "add", "bob", *args, data=tmp_path, stdin=stdin), says)
    assert accounts(tmp_path).list_users() == []


def test_duplicate_and_unknown_users_are_refused(tmp_path):
    run("users", "add", "alice", "--role", "analyst", data=tmp_path, stdin=PASSWORD)
    refused(run("users", "add", "alice", "--role", "analyst", data=tmp_path, stdin=PASSWORD),
            "already a user named 'alice'")
    for action in ("remove", "unlock", "password"):
        refused(run("users", action, "nobody", data=tmp_path, stdin=PASSWORD),
                "no user named 'nobody'")


def test_password_change_unlock_and_remove(tmp_path):
    run("users", "add", "alice", "--role", "analyst", data=tmp_path, stdin=PASSWORD)
    store = accounts(tmp_path)
    for i in range(5):
        with pytest.raises(SignInFailed):
            store.check_password("alice", f"wrong guess {i}")
    assert "locked until" in run("users", "list", data=tmp_path).stdout
    assert run("users", "unlock", "alice", data=tmp_path).returncode == 0
    changed = run("users", "password", "alice", data=tmp_path, stdin="another long password\n")
    assert changed.returncode == 0, changed.stderr
    assert store.check_password("alice", "another long password").name == "alice"
    assert run("users", "remove", "alice", data=tmp_path).returncode == 0
    assert store.list_users() == []


def test_token_is_printed_once_and_can_be_revoked(tmp_path):
    created = run("tokens", "create", "--name", "export", "--role", "partner", data=tmp_path)
    assert created.returncode == 0, created.stderr
    [token] = created.stdout.splitlines()  # the token alone: TOKEN=$(...) works
    assert token.startswith("hst_") and "will not be shown again" in created.stderr
    store = accounts(tmp_path)
    assert store.token_owner(token).role == "partner"
    listed = run("tokens", "list", data=tmp_path)
    assert "export" in listed.stdout and "live" in listed.stdout and token not in listed.stdout
    assert run("tokens", "revoke", "export", data=tmp_path).returncode == 0
    assert store.token_owner(token) is None
    assert "revoked" in run("tokens", "list", data=tmp_path).stdout
    refused(run("tokens", "revoke", "export", data=tmp_path), "no token named 'export'")


def test_token_refusals(tmp_path):
    refused(run("tokens", "create", "--name", "x", "--role", "wizard", data=tmp_path),
            "'wizard' is not a role")
    refused(run("tokens", "create", "--name", "x", "--role", "partner", "--areas", "E99",
                data=tmp_path), "'E99' is not an area code")
    refused(run("tokens", "create", "--name", "two words", "--role", "partner", data=tmp_path),
            "cannot be a token name")
    assert accounts(tmp_path).list_tokens() == []


def test_site_role_file_is_used(tmp_path):
    (tmp_path / "access").mkdir(mode=0o700)
    (tmp_path / "access" / "roles.toml").write_text(
        '[auditor]\nsummary = "Reads the audit log."\nsee = ["audit"]\n')
    assert run("users", "add", "carol", "--role", "auditor", data=tmp_path,
               stdin=PASSWORD).returncode == 0
    refused(run("users", "add", "dan", "--role", "analyst", data=tmp_path, stdin=PASSWORD),
            "the roles are auditor")
    (tmp_path / "access" / "roles.toml").write_text("[auditor\n")
    refused(run("users", "list", data=tmp_path), "is not valid TOML")
