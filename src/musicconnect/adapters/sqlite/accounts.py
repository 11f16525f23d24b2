"""Accounts and artist profiles, with every price version of every tier."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from musicconnect.adapters.sqlite._codec import (
    Connect,
    atomic,
    insert_or_conflict,
    instant,
    instant_or_none,
    plan_columns,
    read_instant,
    read_instant_or_none,
    read_plan,
)
from musicconnect.domain.accounts import ERASED_NAME, Account, Artist, Role
from musicconnect.domain.errors import Conflict, InvalidInput
from musicconnect.domain.tiers import Tier, TierPlan


def _email_key(email: str) -> str:
    return email.strip().lower()


class SqliteAccountRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def add(self, account: Account) -> None:
        insert_or_conflict(
            self._connect(),
            "INSERT INTO accounts (id, email, email_normalised, password_hash, role, display_name,"
            " email_verified, sessions_valid_from, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*_columns(account), instant(account.created_at)),
            f"an account with the email {account.email!r} or id {account.id!r} exists already",
        )

    def save(self, account: Account) -> None:
        # An UPDATE breaking the unique email is turned into Conflict like an INSERT would be.
        insert_or_conflict(
            self._connect(),
            "UPDATE accounts SET email = ?2, email_normalised = ?3, password_hash = ?4, role = ?5,"
            " display_name = ?6, email_verified = ?7, sessions_valid_from = ?8 WHERE id = ?1",
            _columns(account),
            f"an account with the email {account.email!r} exists already",
        )

    def get(self, account_id: str) -> Account | None:
        row = self._connect().execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
        return None if row is None else _account(row)

    def by_email(self, email: str) -> Account | None:
        row = (
            self._connect()
            .execute("SELECT * FROM accounts WHERE email_normalised = ?", (_email_key(email),))
            .fetchone()
        )
        return None if row is None else _account(row)


def _columns(account: Account) -> tuple[str, str, str, str, str, str, int, str | None]:
    """Every column but created_at (written once), in the order of the statements above."""
    return (
        account.id,
        account.email,
        _email_key(account.email),
        account.password_hash,
        account.role.value,
        account.display_name,
        int(account.email_verified),
        instant_or_none(account.sessions_valid_from),
    )


def _account(row: sqlite3.Row) -> Account:
    return Account(
        id=row["id"],
        email=row["email"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        display_name=row["display_name"],
        created_at=read_instant(row["created_at"]),
        email_verified=bool(row["email_verified"]),
        sessions_valid_from=read_instant_or_none(row["sessions_valid_from"]),
    )


def _artist_columns(artist: Artist) -> tuple[str, str, int, str, str, str | None]:
    links = json.dumps(list(artist.links))
    return (artist.id, artist.display_name, artist.grace_days, artist.bio, links, artist.image_key)


_PLAN_COLUMNS = "tier, version, price_minor, currency, features, effective_from"


class SqliteArtistRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def add(self, artist: Artist) -> None:
        connection = self._connect()
        with atomic(connection):
            insert_or_conflict(
                connection,
                "INSERT INTO artists (id, display_name, grace_days, bio, links, image_key)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                _artist_columns(artist),
                f"artist {artist.id!r} exists already",
            )
            self._store_plans(connection, artist)

    def save(self, artist: Artist) -> None:
        connection = self._connect()
        with atomic(connection):
            connection.execute(
                "INSERT INTO artists (id, display_name, grace_days, bio, links, image_key)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE"
                " SET display_name = excluded.display_name, grace_days = excluded.grace_days,"
                " bio = excluded.bio, links = excluded.links, image_key = excluded.image_key",
                _artist_columns(artist),
            )
            self._store_plans(connection, artist)

    def get(self, artist_id: str) -> Artist | None:
        connection = self._connect()
        row = connection.execute("SELECT * FROM artists WHERE id = ?", (artist_id,)).fetchone()
        if row is None:
            return None
        plans = connection.execute(
            "SELECT p.tier, p.version, p.price_minor, p.currency, p.features, p.effective_from"
            " FROM current_plans AS c JOIN tier_plans AS p"
            " ON p.artist_id = c.artist_id AND p.tier = c.tier AND p.version = c.version"
            " WHERE c.artist_id = ? ORDER BY c.position",
            (artist_id,),
        ).fetchall()
        return Artist(
            id=row["id"],
            display_name=row["display_name"],
            plans=tuple(read_plan(plan) for plan in plans),
            grace_days=int(row["grace_days"]),
            bio=row["bio"],
            links=tuple(json.loads(row["links"])),
            image_key=row["image_key"],
        )

    def search(self, name: str, *, limit: int, after: str | None = None) -> Sequence[Artist]:
        pattern = "%" + name.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = (
            self._connect()
            .execute(
                # LIKE folds ASCII case only; casefold() in Python would need a full scan.
                "SELECT id FROM artists WHERE lower(display_name) LIKE :pattern ESCAPE '\\'"
                " AND display_name != :erased"
                " AND (:after IS NULL OR NOT EXISTS (SELECT 1 FROM artists WHERE id = :after)"
                "   OR (lower(display_name), id)"
                "   > (SELECT lower(display_name), id FROM artists WHERE id = :after))"
                " ORDER BY lower(display_name), id LIMIT :limit",
                {"pattern": pattern, "erased": ERASED_NAME, "after": after, "limit": limit},
            )
            .fetchall()
        )
        return [artist for row in rows if (artist := self.get(row["id"])) is not None]

    def plan_version(self, artist_id: str, tier: Tier, version: int) -> TierPlan | None:
        row = (
            self._connect()
            .execute(
                f"SELECT {_PLAN_COLUMNS} FROM tier_plans"  # noqa: S608 - a fixed column list
                " WHERE artist_id = ? AND tier = ? AND version = ?",
                (artist_id, tier.value, version),
            )
            .fetchone()
        )
        return None if row is None else read_plan(row)

    @staticmethod
    def _store_plans(connection: sqlite3.Connection, artist: Artist) -> None:
        if len({plan.tier for plan in artist.plans}) != len(artist.plans):
            raise InvalidInput("an artist offers each tier once")
        for plan in artist.plans:
            columns = plan_columns(plan)
            written = connection.execute(
                f"INSERT INTO tier_plans (artist_id, {_PLAN_COLUMNS})"  # noqa: S608 - fixed columns
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (artist.id, *columns),
            ).rowcount
            if not written:
                # A version is written once: what its subscribers were sold is never rewritten.
                stored = connection.execute(
                    f"SELECT {_PLAN_COLUMNS} FROM tier_plans"  # noqa: S608 - fixed columns
                    " WHERE artist_id = ? AND tier = ? AND version = ?",
                    (artist.id, plan.tier.value, plan.version),
                ).fetchone()
                if read_plan(stored) != plan:
                    raise Conflict(
                        f"version {plan.version} of the {plan.tier} tier exists with other terms;"
                        " a change needs a new version",
                    )
        connection.execute("DELETE FROM current_plans WHERE artist_id = ?", (artist.id,))
        connection.executemany(
            "INSERT INTO current_plans (artist_id, tier, version, position) VALUES (?, ?, ?, ?)",
            [
                (artist.id, plan.tier.value, plan.version, position)
                for position, plan in enumerate(artist.plans)
            ],
        )
