"""Portal users: the built-in administrator, or those of a ``--users`` TOML file.

Passwords are kept only as scrypt hashes and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockserver.auth.privileges import ROLES

DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "admin1234"  # documented in the README; not a secret


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**12, r=8, p=1, dklen=32)


@dataclass(frozen=True)
class User:
    username: str
    role: str
    privileges: frozenset[str]
    salt: bytes
    password_hash: bytes

    @classmethod
    def create(
        cls, username: str, password: str, role: str, privileges: frozenset[str] | None = None
    ) -> User:
        if privileges is None:
            if role not in ROLES:
                raise ValueError(
                    f"user {username!r}: role {role!r} is not built in "
                    f"({', '.join(ROLES)}); give its privileges"
                )
            privileges = ROLES[role]
        salt = os.urandom(16)
        return cls(username, role, frozenset(privileges), salt, _hash(password, salt))

    def check_password(self, password: str) -> bool:
        return hmac.compare_digest(_hash(password, self.salt), self.password_hash)

    def __repr__(self) -> str:  # never show the hash
        return f"User({self.username!r}, role={self.role!r})"


class UserDirectory:
    def __init__(self, users: list[User]) -> None:
        self._users = {user.username: user for user in users}

    def get(self, username: str) -> User | None:
        return self._users.get(username)

    def authenticate(self, username: str, password: str) -> User | None:
        user = self._users.get(username)
        if user is None:
            # Spend the same work as for a real user, so timing tells nothing.
            _hash(password, b"\0" * 16)
            return None
        return user if user.check_password(password) else None

    def __iter__(self):
        return iter(self._users.values())


def default_users() -> UserDirectory:
    return UserDirectory([User.create(DEFAULT_USERNAME, DEFAULT_PASSWORD, "Administrator")])


def load_users(path: str | Path) -> UserDirectory:
    """Users from TOML: ``[users.<name>]`` with ``password``, ``role`` and optional ``privileges``."""
    with open(path, "rb") as file:
        data = tomllib.load(file)
    return users_from_mapping(data.get("users", {}), source=str(path))


def users_from_mapping(entries: Any, *, source: str) -> UserDirectory:
    """Users from ``{name: {"password", "role", "privileges"}}`` (a users file's tables,
    or a sandbox's ``users``); ``ValueError`` says what is wrong and where."""
    if not isinstance(entries, dict):
        raise ValueError(f"{source}: users are an object of user names")
    users = []
    for username, entry in entries.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("password"), str):
            raise ValueError(f"user {str(username)[:40]!r} in {source}: 'password' is required")
        role = entry.get("role", "Custom")
        privileges = entry.get("privileges")
        if not isinstance(role, str) or not (
            privileges is None
            or (isinstance(privileges, list) and all(isinstance(p, str) for p in privileges))
        ):
            raise ValueError(
                f"user {str(username)[:40]!r} in {source}: 'role' is text, 'privileges' a list"
            )
        users.append(
            User.create(
                str(username),
                entry["password"],
                role,
                None if privileges is None else frozenset(privileges),
            )
        )
    if not users:
        raise ValueError(f"{source}: no users given")
    return UserDirectory(users)


def users_to_records(users: UserDirectory) -> list[dict[str, Any]]:
    """The directory as JSON-able records: salts and scrypt hashes, never a password."""
    return [
        {
            "username": user.username,
            "role": user.role,
            "privileges": sorted(user.privileges),
            "salt": user.salt.hex(),
            "hash": user.password_hash.hex(),
        }
        for user in users
    ]


def users_from_records(records: list[dict[str, Any]]) -> UserDirectory:
    return UserDirectory(
        [
            User(
                record["username"],
                record["role"],
                frozenset(record["privileges"]),
                bytes.fromhex(record["salt"]),
                bytes.fromhex(record["hash"]),
            )
            for record in records
        ]
    )
