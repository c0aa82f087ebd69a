"""Users, tokens and sessions: what an administrator and a signed-in user rely on."""

from __future__ import annotations

import sqlite3
import stat
import threading
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from dashboard.access.accounts import (
    WRONG,
    AccountError,
    Accounts,
    SignInFailed,
    TokenRecord,
    digest,
)
from geo.access import load_roles
from geo.settings import SignInLimits

PASSWORD = "correct horse battery"
T0 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)


class CountingHasher(PasswordHasher):
    """Cheap Argon2id parameters (the tests hash often) that count verifications."""

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=1024, parallelism=1)
        self.verified = 0

    def verify(self, hash, password):
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def roles():
    return load_roles(None)


@pytest.fixture
def accounts(tmp_path, roles):
    return Accounts(tmp_path / "access", roles, limits=SignInLimits(), hasher=CountingHasher())


def _rows(accounts, sql):
    con = sqlite3.connect(accounts.path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_password_is_an_argon2id_hash_in_an_owner_only_file(tmp_path, roles):
    accounts = Accounts(tmp_path / "access", roles)  # the production hasher
    accounts.add_user("alice", "analyst", PASSWORD)
    [(stored,)] = _rows(accounts, "SELECT hash FROM users")
    assert stored.startswith("$argon2id$") and stored != PASSWORD
    assert PASSWORD.encode() not in accounts.path.read_bytes()
    assert stat.S_IMODE(accounts.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(accounts.folder.stat().st_mode) == 0o700
    assert accounts.check_password("alice", PASSWORD).role == "analyst"


def test_listed_users_carry_no_hash(accounts):
    accounts.add_user("alice", "officer", PASSWORD, "E07000123,E07000117")
    [user] = accounts.list_users()
    assert (user.name, user.role, user.areas) == ("alice", "officer", ("E07000117", "E07000123"))
    assert not any("argon2" in str(v) for v in vars(user).values())


@pytest.mark.parametrize(("name", "role", "password", "says"), [
    ("alice", "analyst", "short pass", "at least 12 characters"),
    ("alice smith", "analyst", PASSWORD, "cannot be a user name"),
    ("a" * 65, "analyst", PASSWORD, "cannot be a user name"),
    ("alice", "wizard", PASSWORD, "'wizard' is not a role"),
], ids=["short-password", "space-in-name", "name-too-long", "unknown-role"])
def test_add_user_refuses_with_a_reason(accounts, name, role, password, says):
    with pytest.raises(AccountError, match=says):
        accounts.add_user(name, role, password)
    assert accounts.list_users() == []


def test_duplicate_user_refused_whatever_the_case(accounts):
    accounts.add_user("alice", "analyst", PASSWORD)
    with pytest.raises(AccountError, match="already a user named 'Alice'"):
        accounts.add_user("Alice", "admin", PASSWORD)


def test_wrong_password_and_unknown_user_look_the_same(accounts):
    accounts.add_user("alice", "analyst", PASSWORD)
    with pytest.raises(SignInFailed) as wrong:
        accounts.check_password("alice", "not the password")
    before = accounts._hasher.verified
    with pytest.raises(SignInFailed) as unknown:
        accounts.check_password("bob", "not the password")
    assert wrong.value.message == unknown.value.message == WRONG
    assert accounts._hasher.verified == before + 1  # an unknown name still costs a hash
    assert (wrong.value.reason, unknown.value.reason) == ("wrong", "unknown")


def test_lockout_after_five_failures_lifts_after_fifteen_minutes(accounts):
    accounts.add_user("alice", "analyst", PASSWORD)
    for i in range(4):
        with pytest.raises(SignInFailed, match="Wrong user name"):
            accounts.check_password("alice", "guess number " + str(i), now=T0)
    with pytest.raises(SignInFailed, match="locked .* 15 minutes") as fifth:
        accounts.check_password("alice", "guess number 5", now=T0)
    assert fifth.value.retry_after_s == 15 * 60
    # now even the right password is refused, and the message says for how long
    with pytest.raises(SignInFailed, match="Try again in 5 minutes"):
        accounts.check_password("alice", PASSWORD, now=T0 + timedelta(minutes=10))
    user = accounts.check_password("alice", PASSWORD, now=T0 + timedelta(minutes=16))
    assert user.failures == 0 and user.locked_until is None


def test_good_password_resets_the_count(accounts):
    accounts.add_user("alice", "analyst", PASSWORD)
    for _ in range(2):
        for i in range(4):
            with pytest.raises(SignInFailed, match="Wrong"):
                accounts.check_password("alice", f"guess {i} of four", now=T0)
        accounts.check_password("alice", PASSWORD, now=T0)


def test_unlock_and_new_password_lift_the_lock(accounts):
    accounts.add_user("alice", "analyst", PASSWORD)
    for i in range(5):
        with pytest.raises(SignInFailed):
            accounts.check_password("alice", f"guess number {i}", now=T0)
    assert accounts.user("alice").locked(T0)
    accounts.unlock("alice")
    assert accounts.check_password("alice", PASSWORD, now=T0).name == "alice"
    with pytest.raises(AccountError, match="no user named 'bob'"):
        accounts.unlock("bob")


def test_lockout_settings_come_from_the_environment(tmp_path, roles, monkeypatch):
    monkeypatch.setenv("HOTSPOT_SIGNIN_ATTEMPTS", "2")
    monkeypatch.setenv("HOTSPOT_SIGNIN_LOCK_MINUTES", "3")
    accounts = Accounts(tmp_path, roles, hasher=CountingHasher())
    accounts.add_user("alice", "analyst", PASSWORD)
    with pytest.raises(SignInFailed, match="Wrong"):
        accounts.check_password("alice", "first wrong guess", now=T0)
    with pytest.raises(SignInFailed, match="locked after 2 wrong passwords. Try again in 3"):
        accounts.check_password("alice", "second wrong guess", now=T0)


def test_password_is_rehashed_when_the_hasher_changes(tmp_path, roles):
    Accounts(tmp_path, roles, hasher=CountingHasher(time_cost=1)).add_user(
        "alice", "analyst", PASSWORD)
    stronger = Accounts(tmp_path, roles, hasher=CountingHasher(time_cost=2))
    [(old,)] = _rows(stronger, "SELECT hash FROM users")
    stronger.check_password("alice", PASSWORD)
    [(new,)] = _rows(stronger, "SELECT hash FROM users")
    assert ",t=1," in old and ",t=2," in new
    assert stronger.check_password("alice", PASSWORD).name == "alice"


def test_set_password_replaces_the_old_one_and_ends_sessions(accounts):
    accounts.add_user("alice", "analyst", PASSWORD)
    session, _ = accounts.start_session("alice")
    accounts.set_password("alice", "a brand new passphrase")
    assert accounts.session_user(session) is None
    with pytest.raises(SignInFailed):
        accounts.check_password("alice", PASSWORD)
    assert accounts.check_password("alice", "a brand new passphrase").name == "alice"
    with pytest.raises(AccountError, match="at least 12"):
        accounts.set_password("alice", "short")


def test_token_is_shown_once_and_stored_hashed(accounts):
    token = accounts.create_token("nightly-export", "partner", "E07000123")
    assert token.startswith("hst_") and len(token) > 40
    [(stored,)] = _rows(accounts, "SELECT digest FROM tokens")
    assert stored == digest(token) and token.encode() not in accounts.path.read_bytes()
    [listed] = accounts.list_tokens()
    assert isinstance(listed, TokenRecord) and token not in repr(listed)
    owner = accounts.token_owner(token)
    assert owner is not None and (owner.name, owner.role, owner.areas) == (
        "nightly-export", "partner", ("E07000123",))


def test_revoked_or_altered_token_is_refused(accounts):
    token = accounts.create_token("export", "partner")
    assert accounts.token_owner(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert accounts.token_owner("not a token") is None
    accounts.revoke_token("export")
    assert accounts.token_owner(token) is None
    with pytest.raises(AccountError, match="no token named 'export'"):
        accounts.revoke_token("export")


def test_token_names_are_unique_among_live_tokens_only(accounts):
    accounts.create_token("export", "partner")
    with pytest.raises(AccountError, match="already a token named 'export'"):
        accounts.create_token("export", "board")
    accounts.revoke_token("export")
    accounts.create_token("export", "board")
    assert [(t.role, t.live) for t in accounts.list_tokens()] == [("partner", False),
                                                                  ("board", True)]


def test_token_role_must_exist(accounts):
    with pytest.raises(AccountError, match="'wizard' is not a role"):
        accounts.create_token("export", "wizard")


def test_token_last_use_is_written_at_most_once_a_minute(accounts):
    token = accounts.create_token("export", "partner", now=T0)
    accounts.token_owner(token, now=T0)
    accounts.token_owner(token, now=T0 + timedelta(seconds=30))
    assert accounts.list_tokens()[0].last_used == T0
    accounts.token_owner(token, now=T0 + timedelta(seconds=61))
    assert accounts.list_tokens()[0].last_used == T0 + timedelta(seconds=61)


def test_session_identifies_its_user_and_stores_only_a_hash(accounts):
    accounts.add_user("alice", "analyst", PASSWORD)
    session, csrf = accounts.start_session("alice", now=T0)
    found = accounts.session_user(session, now=T0 + timedelta(minutes=5))
    assert found is not None and found[0].name == "alice" and found[1] == csrf
    assert _rows(accounts, "SELECT digest FROM sessions") == [(digest(session),)]
    accounts.end_session(session)
    assert accounts.session_user(session, now=T0) is None


def test_session_ends_after_the_idle_time(tmp_path, roles):
    accounts = Accounts(tmp_path, roles, limits=SignInLimits(session_idle_minutes=30),
                        hasher=CountingHasher())
    accounts.add_user("alice", "analyst", PASSWORD)
    session, _ = accounts.start_session("alice", now=T0)
    assert accounts.session_user(session, now=T0 + timedelta(minutes=29)) is not None
    # counted from the last request, not from sign-in
    assert accounts.session_user(session, now=T0 + timedelta(minutes=29 + 29)) is not None
    assert accounts.session_user(session, now=T0 + timedelta(minutes=58 + 31)) is None
    # and it is gone for good, not merely idle
    assert accounts.session_user(session, now=T0 + timedelta(minutes=58)) is None


def test_idle_time_comes_from_the_environment(tmp_path, roles, monkeypatch):
    monkeypatch.setenv("HOTSPOT_SESSION_IDLE_MINUTES", "10")
    accounts = Accounts(tmp_path, roles, hasher=CountingHasher())
    accounts.add_user("alice", "analyst", PASSWORD)
    session, _ = accounts.start_session("alice", now=T0)
    assert accounts.session_user(session, now=T0 + timedelta(minutes=11)) is None


def test_session_ends_after_twelve_hours_however_busy(accounts):
    accounts.add_user("alice", "analyst", PASSWORD)
    session, _ = accounts.start_session("alice", now=T0)
    for hour in range(1, 12):
        assert accounts.session_user(session, now=T0 + timedelta(hours=hour)) is not None
    assert accounts.session_user(session, now=T0 + timedelta(hours=12, minutes=1)) is None


def test_removing_a_user_ends_their_sessions(accounts):
    accounts.add_user("alice", "analyst", PASSWORD)
    accounts.add_user("bob", "analyst", PASSWORD)
    alice, _ = accounts.start_session("alice")
    bob, _ = accounts.start_session("bob")
    accounts.remove_user("ALICE")
    assert accounts.session_user(alice) is None and accounts.session_user(bob) is not None
    assert _rows(accounts, "SELECT user FROM sessions") == [("bob",)]
    with pytest.raises(AccountError, match="no user named 'alice'"):
        accounts.start_session("alice")


def test_configured_once_a_user_or_live_token_exists(accounts):
    assert not accounts.configured()
    accounts.create_token("export", "partner")
    assert accounts.configured()
    accounts.revoke_token("export")
    assert not accounts.configured()
    accounts.add_user("alice", "analyst", PASSWORD)
    assert accounts.configured()


def test_principal_carries_the_role_policy_and_areas(accounts):
    user = accounts.add_user("alice", "officer", PASSWORD, ["E07000123"])
    who = accounts.principal(user, "session")
    assert (who.name, who.role, who.areas, who.via) == ("alice", "officer", ("E07000123",),
                                                        "session")
    assert who.policy.public_only and not who.may_see("points")
    everywhere = accounts.principal(accounts.add_user("bob", "admin", PASSWORD), "header")
    assert everywhere.areas is None and everywhere.may_change("users")


def test_many_threads_add_and_sign_in_at_once(accounts):
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            accounts.add_user(f"user{i}", "analyst", PASSWORD)
            for _ in range(3):
                user = accounts.check_password(f"user{i}", PASSWORD)
                session, _ = accounts.start_session(user)
                assert accounts.session_user(session) is not None
            with pytest.raises(SignInFailed):
                accounts.check_password(f"user{i}", "wrong password here")
            accounts.create_token(f"token{i}", "partner")
        except BaseException as exc:  # collected, so a failure in a thread fails the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(accounts.list_users()) == 16 and len(accounts.list_tokens()) == 16
    assert all(u.failures == 1 for u in accounts.list_users())


def test_parallel_guesses_cannot_exceed_the_limit(accounts):
    accounts.add_user("alice", "analyst", PASSWORD)
    outcomes: list[str] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        try:
            accounts.check_password("alice", f"parallel guess {i}", now=T0)
        except SignInFailed as exc:
            with lock:
                outcomes.append(exc.reason)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # at most five guesses were checked against the hash; the rest met the lock
    assert outcomes.count("wrong") <= 5 and len(outcomes) == 12
    assert accounts.user("alice").locked(T0)
