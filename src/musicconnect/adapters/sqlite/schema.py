"""The versioned schema: migration steps applied in order, each inside one transaction.

``PRAGMA user_version`` holds how many steps a file has had. Opening an older file applies the
missing steps; a file written by a newer release (more steps than we know) is refused rather
than guessed at. A step is never edited once released: change the schema by appending one.
Money columns are INTEGER minor units, checked so that no REAL can slip in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final


class SchemaVersionError(RuntimeError):
    """The database file was written by a newer release than this one."""


#: Step 1: people, catalogue and subscriptions.
_ACCOUNTS_AND_CATALOG: Final = (
    """
    CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        email_normalised TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        display_name TEXT NOT NULL,
        created_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE artists (
        id TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        grace_days INTEGER NOT NULL
    )
    """,
    # Every price version ever saved; a price change adds a row and never rewrites one.
    """
    CREATE TABLE tier_plans (
        artist_id TEXT NOT NULL REFERENCES artists(id),
        tier TEXT NOT NULL,
        version INTEGER NOT NULL,
        price_minor INTEGER NOT NULL CHECK (typeof(price_minor) = 'integer' AND price_minor >= 0),
        currency TEXT NOT NULL,
        features TEXT NOT NULL,
        effective_from TEXT,
        PRIMARY KEY (artist_id, tier, version)
    ) WITHOUT ROWID
    """,
    # Which version of each tier an artist offers now, in the order the profile lists them.
    """
    CREATE TABLE current_plans (
        artist_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        version INTEGER NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (artist_id, tier),
        FOREIGN KEY (artist_id, tier, version) REFERENCES tier_plans(artist_id, tier, version)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE tracks (
        id TEXT PRIMARY KEY,
        artist_id TEXT NOT NULL,
        title TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL,
        release_at TEXT,
        exclusive INTEGER NOT NULL,
        duration_s REAL,
        rungs_kbps TEXT NOT NULL,
        failure_reason TEXT
    )
    """,
    "CREATE INDEX tracks_by_artist ON tracks(artist_id, created_at)",
    "CREATE INDEX tracks_by_status ON tracks(status, created_at)",
    # The plan a subscriber pays is embedded: it is theirs until they change tier, whatever
    # the artist's tier page says now, and it needs no artist row to be read back.
    """
    CREATE TABLE subscriptions (
        id TEXT PRIMARY KEY,
        fan_id TEXT NOT NULL,
        artist_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        plan_version INTEGER NOT NULL,
        price_minor INTEGER NOT NULL CHECK (typeof(price_minor) = 'integer'),
        currency TEXT NOT NULL,
        features TEXT NOT NULL,
        plan_effective_from TEXT,
        status TEXT NOT NULL,
        current_period_start TEXT NOT NULL,
        current_period_end TEXT NOT NULL,
        created_at TEXT NOT NULL,
        grace_days INTEGER NOT NULL,
        cancel_at_period_end INTEGER NOT NULL,
        scheduled_tier TEXT,
        scheduled_version INTEGER,
        scheduled_price_minor INTEGER CHECK (typeof(scheduled_price_minor) IN ('integer', 'null')),
        scheduled_currency TEXT,
        scheduled_features TEXT,
        scheduled_effective_from TEXT,
        past_due_since TEXT,
        canceled_at TEXT,
        external_ref TEXT,
        last_event_at TEXT
    )
    """,
    # One live subscription per (fan, artist): the database, not a lock, enforces it.
    """
    CREATE UNIQUE INDEX subscriptions_one_live
        ON subscriptions(fan_id, artist_id) WHERE status != 'canceled'
    """,
    "CREATE INDEX subscriptions_by_fan ON subscriptions(fan_id, created_at)",
    "CREATE INDEX subscriptions_by_artist ON subscriptions(artist_id, status)",
    "CREATE INDEX subscriptions_by_external_ref ON subscriptions(external_ref)",
    "CREATE INDEX subscriptions_by_period_end ON subscriptions(status, current_period_end)",
)

#: Step 2: money — the double-entry ledger, payouts and webhook idempotency.
_BILLING: Final = (
    """
    CREATE TABLE ledger_transactions (
        id TEXT PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        artist_id TEXT,
        fan_id TEXT,
        gross_minor INTEGER CHECK (typeof(gross_minor) IN ('integer', 'null')),
        gross_currency TEXT,
        memo TEXT NOT NULL
    )
    """,
    "CREATE INDEX ledger_transactions_by_artist ON ledger_transactions(artist_id, occurred_at)",
    """
    CREATE TABLE ledger_entries (
        transaction_id TEXT NOT NULL REFERENCES ledger_transactions(id),
        position INTEGER NOT NULL,
        account TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('debit', 'credit')),
        amount_minor INTEGER NOT NULL CHECK (typeof(amount_minor) = 'integer' AND amount_minor > 0),
        currency TEXT NOT NULL,
        PRIMARY KEY (transaction_id, position)
    ) WITHOUT ROWID
    """,
    # Covering: a balance is a SUM over this index alone.
    """
    CREATE INDEX ledger_entries_by_account
        ON ledger_entries(account, currency, direction, amount_minor)
    """,
    """
    CREATE TABLE payouts (
        id TEXT PRIMARY KEY,
        artist_id TEXT NOT NULL,
        period TEXT NOT NULL,
        amount_minor INTEGER NOT NULL CHECK (typeof(amount_minor) = 'integer'),
        currency TEXT NOT NULL,
        gross_minor INTEGER NOT NULL CHECK (typeof(gross_minor) = 'integer'),
        gross_currency TEXT NOT NULL,
        platform_fee_minor INTEGER NOT NULL CHECK (typeof(platform_fee_minor) = 'integer'),
        platform_fee_currency TEXT NOT NULL,
        paid_at TEXT NOT NULL,
        external_ref TEXT
    )
    """,
    "CREATE INDEX payouts_by_artist ON payouts(artist_id, paid_at)",
    """
    CREATE TABLE processed_events (
        event_id TEXT PRIMARY KEY,
        processed_at TEXT NOT NULL
    )
    """,
)

#: Step 3: the audience — follows, likes, visits, play counters and direct messages.
_AUDIENCE: Final = (
    """
    CREATE TABLE follows (
        artist_id TEXT NOT NULL,
        fan_id TEXT NOT NULL,
        followed_at TEXT NOT NULL,
        PRIMARY KEY (artist_id, fan_id)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE likes (
        track_id TEXT NOT NULL,
        fan_id TEXT NOT NULL,
        liked_at TEXT NOT NULL,
        PRIMARY KEY (track_id, fan_id)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE visits (
        artist_id TEXT NOT NULL,
        visitor_id TEXT NOT NULL,
        first_visit_at TEXT NOT NULL,
        last_visit_at TEXT NOT NULL,
        PRIMARY KEY (artist_id, visitor_id)
    ) WITHOUT ROWID
    """,
    # Plays are counters, never a table of raw events: 30 days of an artist are 30 rows.
    """
    CREATE TABLE play_buckets (
        artist_id TEXT NOT NULL,
        day TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (artist_id, day)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE fan_plays (
        artist_id TEXT NOT NULL,
        fan_id TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (artist_id, fan_id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX fan_plays_top ON fan_plays(artist_id, count DESC, fan_id)",
    """
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        fan_id TEXT NOT NULL,
        artist_id TEXT NOT NULL,
        body TEXT NOT NULL,
        sent_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX messages_to_artist ON messages(artist_id, sent_at)",
    "CREATE INDEX messages_from_fan ON messages(fan_id, artist_id, sent_at)",
)

#: Step 4: payment intents, reserved before the processor is called; payout statuses; the
#: processor's ids for our parties.
_INTENTS: Final = (
    """
    CREATE TABLE payment_intents (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        artist_id TEXT NOT NULL,
        amount_minor INTEGER NOT NULL CHECK (typeof(amount_minor) = 'integer'),
        currency TEXT NOT NULL,
        created_at TEXT NOT NULL,
        subscription_id TEXT,
        fan_id TEXT,
        tier TEXT,
        plan_version INTEGER,
        status TEXT NOT NULL,
        external_ref TEXT,
        settled_at TEXT
    )
    """,
    "CREATE INDEX payment_intents_by_subscription ON payment_intents(subscription_id, created_at)",
    "CREATE INDEX payment_intents_open ON payment_intents(status, created_at)",
    # Where each payout is, as the processor reports it.
    "ALTER TABLE payouts ADD COLUMN status TEXT NOT NULL DEFAULT 'paid'",
    "ALTER TABLE payouts ADD COLUMN arrived_at TEXT",
    "CREATE INDEX payouts_by_external_ref ON payouts(external_ref)",
    # The processor's ids for fans (customers) and artists (connected accounts).
    """
    CREATE TABLE processor_links (
        kind TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        external_ref TEXT NOT NULL,
        ready INTEGER NOT NULL,
        PRIMARY KEY (kind, owner_id)
    ) WITHOUT ROWID
    """,
    "CREATE UNIQUE INDEX processor_links_by_ref ON processor_links(kind, external_ref)",
)

#: Step 5: whether an account proved its email (existing accounts have not yet), from when its
#: logins count (a password change ends the ones before), and who listened
#: to an artist on which day (a row per artist, day and fan: unique listeners over any window).
_ACCOUNTS_AND_LISTENERS: Final = (
    "ALTER TABLE accounts ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE accounts ADD COLUMN sessions_valid_from TEXT",
    """
    CREATE TABLE listener_days (
        artist_id TEXT NOT NULL,
        day TEXT NOT NULL,
        fan_id TEXT NOT NULL,
        PRIMARY KEY (artist_id, day, fan_id)
    ) WITHOUT ROWID
    """,
)

#: Step 6: the measured average and peak bitrate of each published rung (JSON; empty before).
_RUNG_RATES: Final[Sequence[str]] = ("ALTER TABLE tracks ADD COLUMN rates TEXT NOT NULL DEFAULT '[]'",)

#: Step 7: the artist's bio and links (a JSON list) on their public page.
_ARTIST_PROFILE: Final[Sequence[str]] = (
    "ALTER TABLE artists ADD COLUMN bio TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE artists ADD COLUMN links TEXT NOT NULL DEFAULT '[]'",
)

#: Step 8: live sessions, and the lowest tier that may see a track (a session's recording: superfans).
_LIVE_SESSIONS: Final[Sequence[str]] = (
    """
    CREATE TABLE live_sessions (
        id TEXT PRIMARY KEY,
        artist_id TEXT NOT NULL,
        title TEXT NOT NULL,
        starts_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        key_hash TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        publishing INTEGER NOT NULL,
        dropped_at TEXT,
        media_at TEXT,
        recording_track_id TEXT,
        failure_reason TEXT,
        version INTEGER NOT NULL
    )
    """,
    "CREATE INDEX live_sessions_by_artist ON live_sessions(artist_id, starts_at)",
    "CREATE INDEX live_sessions_by_status ON live_sessions(status, starts_at)",
    "ALTER TABLE tracks ADD COLUMN audience TEXT NOT NULL DEFAULT 'free'",
)

#: Step 9: direct messages become conversations: the artist's replies and read state.
_CONVERSATIONS: Final[Sequence[str]] = (
    "ALTER TABLE messages ADD COLUMN from_artist INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN read_at TEXT",
    "CREATE INDEX messages_thread ON messages(artist_id, fan_id, sent_at)",
)

#: Step 10: monthly Q&As, their questions and upvotes (one per fan and question).
_MONTHLY_QA: Final[Sequence[str]] = (
    """
    CREATE TABLE qa_sessions (
        id TEXT PRIMARY KEY,
        artist_id TEXT NOT NULL,
        month TEXT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        closed_at TEXT,
        UNIQUE (artist_id, month)
    )
    """,
    """
    CREATE TABLE qa_questions (
        id TEXT PRIMARY KEY,
        qa_id TEXT NOT NULL,
        artist_id TEXT NOT NULL,
        fan_id TEXT NOT NULL,
        body TEXT NOT NULL,
        asked_at TEXT NOT NULL,
        answer TEXT,
        answered_at TEXT,
        hidden INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX qa_questions_of_session ON qa_questions(qa_id, asked_at)",
    """
    CREATE TABLE qa_votes (
        question_id TEXT NOT NULL,
        fan_id TEXT NOT NULL,
        qa_id TEXT NOT NULL,
        voted_at TEXT NOT NULL,
        PRIMARY KEY (question_id, fan_id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX qa_votes_of_session ON qa_votes(qa_id, question_id)",
)

#: Step 11: a fan's library lists whom they follow and what they like, the latest first.
_LIBRARY: Final[Sequence[str]] = (
    "CREATE INDEX follows_of_fan ON follows(fan_id, followed_at)",
    "CREATE INDEX likes_of_fan ON likes(fan_id, liked_at)",
)

#: Step 12: each fan's notification feed, and the kinds they also want by email.
_NOTIFICATIONS: Final[Sequence[str]] = (
    """
    CREATE TABLE notifications (
        id TEXT PRIMARY KEY,
        fan_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        artist_id TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        read_at TEXT
    )
    """,
    "CREATE INDEX notifications_of_fan ON notifications(fan_id, created_at)",
    """
    CREATE TABLE notification_email_kinds (
        fan_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        PRIMARY KEY (fan_id, kind)
    ) WITHOUT ROWID
    """,
)

#: Step 13: each fan's listening history, a row per (fan, track) and never a row per play.
_HISTORY: Final[Sequence[str]] = (
    """
    CREATE TABLE fan_history (
        fan_id TEXT NOT NULL,
        track_id TEXT NOT NULL,
        artist_id TEXT NOT NULL,
        last_played_at TEXT NOT NULL,
        plays INTEGER NOT NULL,
        PRIMARY KEY (fan_id, track_id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX fan_history_recent ON fan_history(fan_id, last_played_at)",
)

#: Step 14: the release sweep finds tracks by release instant and keeps up to when it announced.
_RELEASE_SWEEP: Final[Sequence[str]] = (
    "CREATE INDEX tracks_by_release ON tracks(release_at) WHERE release_at IS NOT NULL",
    "CREATE TABLE notification_sweeps (name TEXT PRIMARY KEY, until TEXT NOT NULL) WITHOUT ROWID",
)

#: Step 15: a person's export and erasure find their questions and upvotes.
_PRIVACY: Final[Sequence[str]] = (
    "CREATE INDEX qa_questions_of_fan ON qa_questions(fan_id, asked_at)",
    "CREATE INDEX qa_votes_of_fan ON qa_votes(fan_id, voted_at)",
)

#: Step 16: a payout receipt's processor fee, in the payout's currency; NULL for payouts made
#: before it was kept (unknown, not zero).
_PAYOUT_PROCESSOR_FEE: Final[Sequence[str]] = (
    """
    ALTER TABLE payouts ADD COLUMN processor_fee_minor INTEGER
        CHECK (processor_fee_minor IS NULL OR typeof(processor_fee_minor) = 'integer')
    """,
)

#: Step 17: the virtual backstage (posts with their images and clip, comments, blocked fans)
#: and the artist's profile picture.
_BACKSTAGE: Final[Sequence[str]] = (
    """
    CREATE TABLE backstage_posts (
        id TEXT PRIMARY KEY,
        artist_id TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        edited_at TEXT,
        images TEXT NOT NULL,
        clip_status TEXT,
        clip_duration_s REAL,
        clip_failure TEXT
    )
    """,
    "CREATE INDEX backstage_posts_feed ON backstage_posts(artist_id, created_at, id)",
    """
    CREATE TABLE backstage_comments (
        id TEXT PRIMARY KEY,
        post_id TEXT NOT NULL,
        artist_id TEXT NOT NULL,
        fan_id TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX backstage_comments_of_post ON backstage_comments(post_id, created_at)",
    "CREATE INDEX backstage_comments_by_fan ON backstage_comments(fan_id, created_at)",
    """
    CREATE TABLE backstage_blocks (
        artist_id TEXT NOT NULL,
        fan_id TEXT NOT NULL,
        blocked_at TEXT NOT NULL,
        PRIMARY KEY (artist_id, fan_id)
    ) WITHOUT ROWID
    """,
    "ALTER TABLE artists ADD COLUMN image_key TEXT",
)

#: Step 18: a track's description, which the artist edits in the studio (tracks before it have
#: none), and how far its transcode is while it processes.
_TRACK_DESCRIPTION_AND_PROGRESS: Final[Sequence[str]] = (
    "ALTER TABLE tracks ADD COLUMN description TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN progress REAL",
)

#: Step 19: a fan's charges, listed in their data export.
_LEDGER_BY_FAN: Final[Sequence[str]] = (
    "CREATE INDEX ledger_transactions_by_fan ON ledger_transactions(fan_id, occurred_at)",
)

#: Every step in order; the schema version of a file is how many of them it has had.
MIGRATIONS: Final[tuple[Sequence[str], ...]] = (
    _ACCOUNTS_AND_CATALOG,
    _BILLING,
    _AUDIENCE,
    _INTENTS,
    _ACCOUNTS_AND_LISTENERS,
    _RUNG_RATES,
    _ARTIST_PROFILE,
    _LIVE_SESSIONS,
    _CONVERSATIONS,
    _MONTHLY_QA,
    _LIBRARY,
    _NOTIFICATIONS,
    _HISTORY,
    _RELEASE_SWEEP,
    _PRIVACY,
    _PAYOUT_PROCESSOR_FEE,
    _BACKSTAGE,
    _TRACK_DESCRIPTION_AND_PROGRESS,
    _LEDGER_BY_FAN,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    row = connection.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(connection: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> int:
    """Bring the file up to ``target`` and return the version it had before.

    Expects a connection in autocommit mode (``isolation_level=None``). The version is read
    again under the write lock, so processes opening the same old file upgrade it once.
    """
    if not 0 <= target <= SCHEMA_VERSION:
        raise ValueError(f"schema version {target} is not between 0 and {SCHEMA_VERSION}")
    _refuse_newer(schema_version(connection))
    if schema_version(connection) >= target:
        return schema_version(connection)
    connection.execute("BEGIN IMMEDIATE")
    try:
        found = schema_version(connection)
        _refuse_newer(found)
        for version in range(found + 1, target + 1):
            for statement in MIGRATIONS[version - 1]:
                connection.execute(statement)
        if target > found:
            # PRAGMA takes no parameters; ``target`` is an int checked against the known range.
            connection.execute(f"PRAGMA user_version = {int(target)}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return found


def _refuse_newer(found: int) -> None:
    if found > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the database has schema version {found}, but this release of musicconnect only "
            f"knows up to {SCHEMA_VERSION}: upgrade musicconnect, or point it at another data dir",
        )
