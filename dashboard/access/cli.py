"""``hotspot users`` and ``hotspot tokens``: who may sign in, and who may call the API.

Every error is one plain line on standard error and exit code 2. Passwords are read from
standard input (typed twice at a terminal), never from the command line, where other users
of the machine could see them in the process list.
"""

from __future__ import annotations

import argparse
import getpass
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dashboard.cli import EXIT_OK, EXIT_USAGE, _add_data_dir, _data_paths, _fail
from geo.access import RoleFileError, area_codes
from geo.settings import TIMEZONE, DataPaths

if TYPE_CHECKING:
    from dashboard.access.accounts import Accounts

Subparsers = argparse._SubParsersAction  # argparse exposes no public name for it


class InputError(ValueError):
    """Something typed on the command line or standard input cannot be used."""


def register(sub: Subparsers) -> None:
    """Add the ``users`` and ``tokens`` commands to the ``hotspot`` parser's subcommands."""
    _register_users(sub)
    _register_tokens(sub)


def _action(actions: Subparsers, name: str, help_text: str,
            description: str | None = None) -> argparse.ArgumentParser:
    q: argparse.ArgumentParser = actions.add_parser(name, help=help_text,
                                                    description=description or help_text)
    _add_data_dir(q, again=True)
    return q


def _limits(q: argparse.ArgumentParser, who: str) -> None:
    q.add_argument("--role", required=True, metavar="ROLE",
                   help="a role of the role file (<data directory>/access/roles.toml, else "
                   "the defaults: admin, analyst, officer, partner, board)")
    q.add_argument("--areas", metavar="CODES",
                   help=f"comma-separated local-authority codes {who} is limited to "
                   "(default: every area); see 'hotspot boundaries show'")


def _register_users(sub: Subparsers) -> None:
    p = sub.add_parser("users", help="manage who may sign in",
                       description="Add, list and remove the people who may sign in, reset a "
                       "password, or unlock an account locked by wrong passwords.")
    _add_data_dir(p)
    p.set_defaults(func=cmd_users, action="list")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    q = _action(actions, "add", "add a user",
                "Add a user. The password (at least 12 characters) is asked for twice at a "
                "terminal, or read from the first line of standard input.")
    q.add_argument("name", metavar="NAME")
    _limits(q, "the user")
    _action(actions, "list", "list the users (never their passwords)")
    for name, text in (("remove", "remove a user and end their sessions"),
                       ("unlock", "unlock a user locked out by wrong passwords"),
                       ("password", "set a user's password (read like 'add' reads it) and "
                        "end their sessions")):
        _action(actions, name, text).add_argument("name", metavar="NAME")


def _register_tokens(sub: Subparsers) -> None:
    p = sub.add_parser("tokens", help="manage API tokens",
                       description="Create, list and revoke API tokens. A token is shown once, "
                       "when it is created; Hotspot keeps only its hash.")
    _add_data_dir(p)
    p.set_defaults(func=cmd_tokens, action="list")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    q = _action(actions, "create", "create a token and print it once")
    q.add_argument("--name", required=True, metavar="NAME",
                   help="what the token is for, e.g. nightly-export")
    _limits(q, "the token")
    _action(actions, "list", "list the tokens (never the tokens themselves)")
    _action(actions, "revoke", "revoke a token: it stops working at once").add_argument(
        "name", metavar="NAME")


def _run(args: argparse.Namespace,
         commands: dict[str, Callable[[argparse.Namespace, DataPaths, Accounts], int]]) -> int:
    """Open the accounts of the data directory and run the chosen action; errors exit 2."""
    from dashboard.access.accounts import AccountError, Accounts
    from geo.access import load_roles

    data = _data_paths(args)
    try:
        accounts = Accounts(data.access, load_roles(data.access / "roles.toml"))
        return commands[args.action or "list"](args, data, accounts)
    except (AccountError, RoleFileError, InputError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except sqlite3.Error as exc:
        return _fail(f"the accounts file in {data.access} cannot be used: {exc}", EXIT_USAGE)
    except OSError as exc:
        return _fail(f"{exc.strerror or exc}: {exc.filename or data.access}", EXIT_USAGE)


def cmd_users(args: argparse.Namespace) -> int:
    """Add, list, remove or unlock users, or set a password."""
    return _run(args, {"add": _add_user, "list": _list_users, "remove": _remove_user,
                       "unlock": _unlock_user, "password": _set_password})


def cmd_tokens(args: argparse.Namespace) -> int:
    """Create, list or revoke API tokens."""
    return _run(args, {"create": _create_token, "list": _list_tokens,
                       "revoke": _revoke_token})


# -- helpers -----------------------------------------------------------------------------
def read_password() -> str:
    """Return a password typed twice at a terminal, or the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password (at least 12 characters): ")
        if getpass.getpass("The same password again: ") != first:
            raise InputError("the two passwords differ; nothing was changed")
        return first
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InputError("no password was given: type it when asked, or put it on the first "
                         "line of standard input")
    return password


def _areas(args: argparse.Namespace, data: DataPaths) -> tuple[str, ...] | None:
    """Return the ``--areas`` codes, each checked against the boundaries in use."""
    codes = area_codes(args.areas)
    if codes is None:
        return None
    # only here: the boundaries (and geopandas) take half a second to load
    from geo.boundaries import BoundaryError, load_boundaries

    try:
        boundaries = load_boundaries(data.boundaries)
    except BoundaryError as exc:
        raise InputError(str(exc)) from None
    unknown = [c for c in codes if c not in set(boundaries.areas["code"])]
    if unknown:
        listed = ", ".join(f"'{c}'" for c in unknown)
        verb = "is not an area code" if len(unknown) == 1 else "are not area codes"
        raise InputError(f"{listed} {verb} of the boundaries in use ({boundaries.source}); "
                         "'hotspot boundaries show' lists them")
    return codes


def _when(moment: datetime | None) -> str:
    return moment.astimezone(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%d %H:%M") if moment else "-"


def _scope(areas: tuple[str, ...] | None) -> str:
    return ",".join(areas) if areas else "all areas"


# -- users -------------------------------------------------------------------------------
def _add_user(args: argparse.Namespace, data: DataPaths, accounts: Accounts) -> int:
    accounts.check_role(args.role)  # named before a password is asked for
    areas = _areas(args, data)
    user = accounts.add_user(args.name, args.role, read_password(), areas)
    print(f"Added the user '{user.name}': {user.role}, {_scope(user.areas)}.")
    return EXIT_OK


def _list_users(args: argparse.Namespace, data: DataPaths, accounts: Accounts) -> int:
    users = accounts.list_users()
    if not users:
        print("There are no users. Add one with: hotspot users add NAME --role ROLE")
        return EXIT_OK
    print(f"{'NAME':24} {'ROLE':10} {'CREATED':16}  {'STATUS':22} AREAS")
    for u in users:
        status = f"locked until {_when(u.locked_until)[11:]}" if u.locked() else "active"
        print(f"{u.name:24} {u.role:10} {_when(u.created):16}  {status:22} {_scope(u.areas)}")
    return EXIT_OK


def _remove_user(args: argparse.Namespace, data: DataPaths, accounts: Accounts) -> int:
    accounts.remove_user(args.name)
    print(f"Removed the user '{args.name}' and ended their sessions.")
    return EXIT_OK


def _unlock_user(args: argparse.Namespace, data: DataPaths, accounts: Accounts) -> int:
    accounts.unlock(args.name)
    print(f"Unlocked '{args.name}'.")
    return EXIT_OK


def _set_password(args: argparse.Namespace, data: DataPaths, accounts: Accounts) -> int:
    accounts.user(args.name)  # an unknown name is named before the password is asked for
    accounts.set_password(args.name, read_password())
    print(f"Changed the password of '{args.name}' and ended their sessions.")
    return EXIT_OK


# -- tokens ------------------------------------------------------------------------------
def _create_token(args: argparse.Namespace, data: DataPaths, accounts: Accounts) -> int:
    accounts.check_role(args.role)
    token = accounts.create_token(args.name, args.role, _areas(args, data))
    # Only the token goes to standard output, so TOKEN=$(hotspot tokens create ...) works.
    print(token)
    print(f"Created the token '{args.name}' ({args.role}, {_scope(area_codes(args.areas))}). "
          "It will not be shown again: store it now.", file=sys.stderr)
    return EXIT_OK


def _list_tokens(args: argparse.Namespace, data: DataPaths, accounts: Accounts) -> int:
    tokens = accounts.list_tokens()
    if not tokens:
        print("There are no API tokens. Create one with: "
              "hotspot tokens create --name NAME --role ROLE")
        return EXIT_OK
    print(f"{'NAME':24} {'ROLE':10} {'CREATED':16}  {'LAST USED':16}  {'STATUS':26} AREAS")
    for t in tokens:
        status = "live" if t.live else f"revoked {_when(t.revoked_at)}"
        print(f"{t.name:24} {t.role:10} {_when(t.created):16}  {_when(t.last_used):16}  "
              f"{status:26} {_scope(t.areas)}")
    return EXIT_OK


def _revoke_token(args: argparse.Namespace, data: DataPaths, accounts: Accounts) -> int:
    accounts.revoke_token(args.name)
    print(f"Revoked the token '{args.name}': it no longer works.")
    return EXIT_OK
