"""Users, API tokens and sign-in sessions, kept in one SQLite file in the access folder.

Passwords are stored as Argon2id hashes; API tokens and session ids only as their SHA-256, so a
copy of the file lets nobody sign in or call the API. Each call opens its own connection (the
server answers from 16 threads) and the file is in WAL mode with a busy timeout, so readers
never wait for a writer and writers queue briefly instead of failing.

Nothing here knows about HTTP: :mod:`dashboard.access.identity` turns requests into principals.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from geo.access import Principal, RoleFileError, Roles, area_codes
from geo.settings import SignInLimits, sign_in_limits

#: The file in the access folder.
DB_NAME = "accounts.sqlite"
#: Every API token starts with this, so a leaked one is recognisable (e.g. by secret scanners).
TOKEN_PREFIX = "hst_"
MIN_PASSWORD = 12
#: Longer input is refused before hashing: nobody types more, and it bounds the work per try.
MAX_PASSWORD = 1024
#: How often, at most, a token's last use or a session's last request is written (seconds).
TOUCH_EVERY_S = 60.0
BUSY_TIMEOUT_S = 10.0
WRONG = "Wrong user name or password."

# ASCII only: a name that looks like another (Cyrillic "а" for Latin "a") cannot be made.
_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
# secrets.token_urlsafe(32) gives 43 characters of the URL-safe base64 alphabet.
_SECRET = re.compile(r"[A-Za-z0-9_-]{32,128}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    role TEXT NOT NULL,
    areas TEXT,
    hash TEXT NOT NULL,
    created REAL NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until REAL
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL COLLATE NOCASE,
    role TEXT NOT NULL,
    areas TEXT,
    digest TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    revoked_at REAL,
    last_used REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY,
    user TEXT NOT NULL COLLATE NOCASE REFERENCES users (name) ON DELETE CASCADE,
    created REAL NOT NULL,
    last_seen REAL NOT NULL,
    csrf TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user);
PRAGMA user_version = 1;
"""


class AccountError(ValueError):
    """A user or token cannot be added, changed or found; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SignInFailed(Exception):
    """A sign-in was refused; ``message`` is safe to show to whoever tried.

    ``reason`` is for the audit log only (``unknown``, ``wrong`` or ``locked``): the message
    never says whether the user exists, except that an existing account is locked.
    ``retry_after_s`` is set when the account is locked.
    """

    def __init__(self, message: str, reason: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class UserRecord:
    """A user as listed: never the password hash."""

    name: str
    role: str
    areas: tuple[str, ...] | None
    created: datetime
    failures: int = 0
    locked_until: datetime | None = None

    def locked(self, now: datetime | None = None) -> bool:
        """Say whether the account is locked at ``now`` (default: the current time)."""
        return self.locked_until is not None and self.locked_until > (now or _utcnow())


@dataclass(frozen=True)
class TokenRecord:
    """An API token as listed: never the token or its hash."""

    name: str
    role: str
    areas: tuple[str, ...] | None
    created: datetime
    revoked_at: datetime | None = None
    last_used: datetime | None = None

    @property
    def live(self) -> bool:
        """True unless the token has been revoked."""
        return self.revoked_at is None


def valid_name(name: str) -> bool:
    """Say whether ``name`` may name a user or token: 1-64 of ``A-Z a-z 0-9 . _ - @``.

    Examples
    --------
    >>> valid_name("j.smith@lancs"), valid_name("j smith"), valid_name("")
    (True, False, False)
    """
    return _NAME.fullmatch(name) is not None


def token_shaped(text: str) -> bool:
    """Say whether ``text`` has the form of a Hotspot API token (not whether it is valid).

    Examples
    --------
    >>> token_shaped("hst_" + "a" * 43), token_shaped("a" * 47)
    (True, False)
    """
    return text.startswith(TOKEN_PREFIX) and _SECRET.fullmatch(text[len(TOKEN_PREFIX):]) is not None


def digest(secret: str) -> str:
    """Return the SHA-256 of ``secret`` in hex: how tokens and session ids are stored.

    A plain hash is enough (no salt, no slow hash) because these are 256-bit random values,
    not something a person chose.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(now: datetime | None) -> float:
    return now.timestamp() if now is not None else time.time()


def _when(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def _areas_text(areas: tuple[str, ...] | None) -> str | None:
    return ",".join(areas) if areas else None


def _check_name(name: str, what: str) -> None:
    if not valid_name(name):
        raise AccountError(f"'{name[:80]}' cannot be a {what} name: use 1 to 64 letters, "
                           "digits, dots, underscores, hyphens or @")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters long "
                           f"(it has {len(password)})")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must be at most {MAX_PASSWORD} characters long")


def _user(row: sqlite3.Row) -> UserRecord:
    return UserRecord(name=row["name"], role=row["role"], areas=area_codes(row["areas"]),
                      created=_when(row["created"]) or _utcnow(), failures=row["failures"],
                      locked_until=_when(row["locked_until"]))


def _token(row: sqlite3.Row) -> TokenRecord:
    return TokenRecord(name=row["name"], role=row["role"], areas=area_codes(row["areas"]),
                       created=_when(row["created"]) or _utcnow(),
                       revoked_at=_when(row["revoked_at"]), last_used=_when(row["last_used"]))


class Accounts:
    """The users, API tokens and sign-in sessions of one data directory.

    Parameters
    ----------
    folder : Path
        The access folder (``DataPaths.access``); created with mode 0700 if missing, and the
        database file in it with mode 0600.
    roles : Roles
        The site's roles: a user's or token's role must be one of them.
    limits : SignInLimits, optional
        Lockout and session lifetimes (default: :func:`geo.settings.sign_in_limits`).
    hasher : argon2.PasswordHasher, optional
        The password hasher (default: argon2-cffi's Argon2id defaults, RFC 9106 low-memory).
        Stored hashes made with other parameters are rehashed at the next good sign-in.
    """

    def __init__(self, folder: Path, roles: Roles, *, limits: SignInLimits | None = None,
                 hasher: PasswordHasher | None = None) -> None:
        self.folder = folder
        self.path = folder / DB_NAME
        self.roles = roles
        self.limits = limits or sign_in_limits()
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None
        self._dummy_lock = threading.Lock()
        self._create()

    # -- storage -------------------------------------------------------------------------
    def _create(self) -> None:
        """Create the folder and file with owner-only permissions, then the tables."""
        if not self.folder.exists():
            self.folder.mkdir(mode=0o700, parents=True)
        # Created before SQLite opens it so it is never readable by others, even briefly;
        # SQLite gives the -wal and -shm files the permissions of the database file.
        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(self.path, 0o600)
        with self._db() as con:
            con.execute("PRAGMA journal_mode = WAL")
            con.executescript(_SCHEMA)

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """Open a connection for one call; with ``write``, hold the write lock until the end.

        ``BEGIN IMMEDIATE`` takes the write lock before the first read, so a read-then-update
        (counting a failed sign-in) cannot interleave with another thread's.
        """
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA foreign_keys = ON")
            if write:
                con.execute("BEGIN IMMEDIATE")
            yield con
            if write:
                con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def check_role(self, role: str) -> None:
        """Raise :class:`AccountError` naming the roles if ``role`` is not one of them."""
        try:
            self.roles[role]
        except RoleFileError as err:
            raise AccountError(str(err)) from None

    # -- users ---------------------------------------------------------------------------
    def add_user(self, name: str, role: str, password: str,
                 areas: str | Iterable[str] | None = None, *,
                 now: datetime | None = None) -> UserRecord:
        """Add a user; refuse a bad name, an unknown role, a short password or a duplicate.

        ``areas`` limits the user to these local-authority codes (None: every area). Names
        are unique regardless of case.
        """
        _check_name(name, "user")
        self.check_role(role)
        _check_password(password)
        codes = area_codes(areas)
        hashed = self._hasher.hash(password)
        try:
            with self._db(write=True) as con:
                con.execute("INSERT INTO users (name, role, areas, hash, created) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (name, role, _areas_text(codes), hashed, _ts(now)))
        except sqlite3.IntegrityError:
            raise AccountError(f"there is already a user named '{name}'") from None
        return self.user(name)

    def user(self, name: str) -> UserRecord:
        """Return the user named ``name`` (any case); raise :class:`AccountError` if none."""
        with self._db() as con:
            row = con.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise AccountError(f"there is no user named '{name[:80]}'")
        return _user(row)

    def list_users(self) -> list[UserRecord]:
        """Return every user, by name."""
        with self._db() as con:
            rows = con.execute("SELECT * FROM users ORDER BY name").fetchall()
        return [_user(r) for r in rows]

    def remove_user(self, name: str) -> None:
        """Remove a user and end every session they have."""
        with self._db(write=True) as con:
            con.execute("DELETE FROM sessions WHERE user = ?", (name,))
            gone = con.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount
        if not gone:
            raise AccountError(f"there is no user named '{name[:80]}'")

    def set_password(self, name: str, password: str) -> None:
        """Give a user a new password, unlock them, and end every session they have."""
        _check_password(password)
        hashed = self._hasher.hash(password)
        with self._db(write=True) as con:
            done = con.execute("UPDATE users SET hash = ?, failures = 0, locked_until = NULL "
                               "WHERE name = ?", (hashed, name)).rowcount
            con.execute("DELETE FROM sessions WHERE user = ?", (name,))
        if not done:
            raise AccountError(f"there is no user named '{name[:80]}'")

    def unlock(self, name: str) -> None:
        """Unlock a user locked out by wrong passwords, and clear their count of failures."""
        with self._db(write=True) as con:
            done = con.execute("UPDATE users SET failures = 0, locked_until = NULL "
                               "WHERE name = ?", (name,)).rowcount
        if not done:
            raise AccountError(f"there is no user named '{name[:80]}'")

    # -- sign-in -------------------------------------------------------------------------
    def check_password(self, name: str, password: str,
                       now: datetime | None = None) -> UserRecord:
        """Return the user if ``password`` is theirs; else raise :class:`SignInFailed`.

        After ``limits.attempts`` consecutive wrong passwords the account is locked for
        ``limits.lock_minutes``; a locked account is refused whatever the password, with a
        message saying so. An unknown name costs one hash like a known one, so the time taken
        does not tell whether the user exists.
        """
        t = _ts(now)
        if len(password) > MAX_PASSWORD or not valid_name(name):
            self._dummy_verify(password)
            raise SignInFailed(WRONG, "unknown")
        stored = self._reserve_attempt(name, t)
        if stored is None:
            self._dummy_verify(password)
            raise SignInFailed(WRONG, "unknown")
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            raise self._record_failure(name, t) from None
        return self._record_success(name, password, stored)

    def _reserve_attempt(self, name: str, t: float) -> str | None:
        """Count this attempt as a failure before checking it, and return the stored hash.

        Counting first means that parallel guesses cannot all pass the lockout check before
        any of them is counted; a good password resets the count afterwards. Return None for
        an unknown user; raise :class:`SignInFailed` if the account is locked.
        """
        with self._db(write=True) as con:
            row = con.execute("SELECT hash, failures, locked_until FROM users WHERE name = ?",
                              (name,)).fetchone()
            if row is None:
                return None
            failures, until = row["failures"], row["locked_until"]
            if until is not None and until <= t:  # the lock has run out: a fresh start
                failures, until = 0, None
            if until is None and failures >= self.limits.attempts:
                # reached by attempts still being checked, or a lowered limit
                until = t + self.limits.lock_minutes * 60
                con.execute("UPDATE users SET locked_until = ? WHERE name = ?", (until, name))
            if until is not None:
                raise self._locked(until - t)
            con.execute("UPDATE users SET failures = ?, locked_until = NULL WHERE name = ?",
                        (failures + 1, name))
            return str(row["hash"])

    def _record_failure(self, name: str, t: float) -> SignInFailed:
        """Lock the account if this wrong password was one too many; return the refusal."""
        until = t + self.limits.lock_minutes * 60
        with self._db(write=True) as con:
            locked = con.execute("UPDATE users SET locked_until = ? WHERE name = ? "
                                 "AND failures >= ? AND locked_until IS NULL",
                                 (until, name, self.limits.attempts)).rowcount
        return self._locked(until - t) if locked else SignInFailed(WRONG, "wrong")

    def _record_success(self, name: str, password: str, stored: str) -> UserRecord:
        """Clear the failure count, rehash if the hasher's settings changed; return the user."""
        rehash = self._hasher.hash(password) if self._hasher.check_needs_rehash(stored) else None
        with self._db(write=True) as con:
            con.execute("UPDATE users SET failures = 0, locked_until = NULL, "
                        "hash = COALESCE(?, hash) WHERE name = ?", (rehash, name))
        return self.user(name)

    def _locked(self, remaining_s: float) -> SignInFailed:
        minutes = max(1, math.ceil(remaining_s / 60))
        unit = "minute" if minutes == 1 else "minutes"
        return SignInFailed(
            f"This account is locked after {self.limits.attempts} wrong passwords. Try again "
            f"in {minutes} {unit}, or ask an administrator to unlock it.", "locked",
            retry_after_s=max(1, math.ceil(remaining_s)))

    def _dummy_verify(self, password: str) -> None:
        """Spend the time of one real check, so unknown names answer as slowly as known ones."""
        with self._dummy_lock:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        with suppress(VerificationError):
            self._hasher.verify(self._dummy_hash, password[:MAX_PASSWORD])

    # -- API tokens ----------------------------------------------------------------------
    def create_token(self, name: str, role: str, areas: str | Iterable[str] | None = None,
                     *, now: datetime | None = None) -> str:
        """Create an API token and return it: the only time it is ever available.

        Only its SHA-256 is kept. ``name`` says what the token is for and must be unique
        among tokens not revoked.
        """
        _check_name(name, "token")
        self.check_role(role)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with self._db(write=True) as con:
                con.execute("INSERT INTO tokens (name, role, areas, digest, created) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (name, role, _areas_text(area_codes(areas)), digest(token),
                             _ts(now)))
        except sqlite3.IntegrityError:
            raise AccountError(f"there is already a token named '{name}'; revoke it or "
                               "choose another name") from None
        return token

    def revoke_token(self, name: str, *, now: datetime | None = None) -> None:
        """Revoke the live token named ``name``; it stops working at once."""
        with self._db(write=True) as con:
            done = con.execute("UPDATE tokens SET revoked_at = ? "
                               "WHERE name = ? AND revoked_at IS NULL",
                               (_ts(now), name)).rowcount
        if not done:
            raise AccountError(f"there is no token named '{name[:80]}' that is not revoked")

    def list_tokens(self) -> list[TokenRecord]:
        """Return every token, live and revoked, by name then age (never the token)."""
        with self._db() as con:
            rows = con.execute("SELECT * FROM tokens ORDER BY name, created").fetchall()
        return [_token(r) for r in rows]

    def token_owner(self, token: str, now: datetime | None = None) -> TokenRecord | None:
        """Return the record of a live token, or None if it is unknown, revoked or malformed.

        The token is looked up by its SHA-256, so the lookup's timing says nothing about the
        token itself. Its last use is written at most once a minute.
        """
        if not token_shaped(token):
            return None
        with self._db() as con:
            row = con.execute("SELECT * FROM tokens WHERE digest = ? AND revoked_at IS NULL",
                              (digest(token),)).fetchone()
        if row is None:
            return None
        t = _ts(now)
        if row["last_used"] is None or t - row["last_used"] >= TOUCH_EVERY_S:
            with self._db(write=True) as con:
                con.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (t, row["id"]))
        return _token(row)

    # -- sessions ------------------------------------------------------------------------
    def start_session(self, user: UserRecord | str,
                      now: datetime | None = None) -> tuple[str, str]:
        """Start a sign-in session for ``user``; return ``(session_id, csrf_token)``.

        Only the session id's SHA-256 is stored. Sessions that have run out are deleted.
        """
        name = user.name if isinstance(user, UserRecord) else user
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        t = _ts(now)
        try:
            with self._db(write=True) as con:
                self._purge(con, t)
                con.execute("INSERT INTO sessions (digest, user, created, last_seen, csrf) "
                            "VALUES (?, (SELECT name FROM users WHERE name = ?), ?, ?, ?)",
                            (digest(session_id), name, t, t, csrf))
        except sqlite3.IntegrityError:  # the user was removed (user would be NULL)
            raise AccountError(f"there is no user named '{name[:80]}'") from None
        return session_id, csrf

    def session_user(self, session_id: str,
                     now: datetime | None = None) -> tuple[UserRecord, str] | None:
        """Return the user and CSRF token of a live session, or None.

        A session ends after ``limits.session_idle_minutes`` without a request and
        ``limits.session_max_hours`` after sign-in; one that has ended is deleted.
        """
        if _SECRET.fullmatch(session_id) is None:
            return None
        key, t = digest(session_id), _ts(now)
        with self._db() as con:
            row = con.execute("SELECT s.created AS s_created, s.last_seen, s.csrf, u.* "
                              "FROM sessions s JOIN users u ON u.name = s.user "
                              "WHERE s.digest = ?", (key,)).fetchone()
        if row is None:
            return None
        if self._expired(row["s_created"], row["last_seen"], t):
            self.end_session(session_id)
            return None
        if t - row["last_seen"] >= TOUCH_EVERY_S:
            with self._db(write=True) as con:
                con.execute("UPDATE sessions SET last_seen = ? WHERE digest = ?", (t, key))
        return _user(row), str(row["csrf"])

    def end_session(self, session_id: str) -> None:
        """End a session (nothing happens if there is none)."""
        with self._db(write=True) as con:
            con.execute("DELETE FROM sessions WHERE digest = ?", (digest(session_id),))

    def _expired(self, created: float, last_seen: float, t: float) -> bool:
        return (t - last_seen > self.limits.session_idle_minutes * 60
                or t - created > self.limits.session_max_hours * 3600)

    def _purge(self, con: sqlite3.Connection, t: float) -> None:
        con.execute("DELETE FROM sessions WHERE last_seen < ? OR created < ?",
                    (t - self.limits.session_idle_minutes * 60,
                     t - self.limits.session_max_hours * 3600))

    # -- principals ----------------------------------------------------------------------
    def configured(self) -> bool:
        """Say whether anyone can sign in or call the API: a user or a live token exists."""
        with self._db() as con:
            row = con.execute("SELECT EXISTS (SELECT 1 FROM users) OR EXISTS "
                              "(SELECT 1 FROM tokens WHERE revoked_at IS NULL)").fetchone()
        return bool(row[0])

    def principal(self, record: UserRecord | TokenRecord, via: str) -> Principal:
        """Return the principal of a user or token, with its role's policy from the role file.

        Raises
        ------
        geo.access.RoleFileError
            If the record's role is no longer in the role file.
        """
        return Principal(name=record.name, policy=self.roles[record.role],
                         areas=record.areas, via=via)
