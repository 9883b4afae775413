"""Schema of the event store, its version and its migrations.

`PRAGMA application_id` marks the file as ours, so a foreign SQLite file is refused, never
written to. `PRAGMA user_version` is the schema version; MIGRATIONS[v] upgrades v -> v+1.
"""

from __future__ import annotations

APPLICATION_ID = 0x51414954  # "QAIT"
SCHEMA_VERSION = 1

# Version 0 -> 1: the initial schema.
_V1 = """
CREATE TABLE IF NOT EXISTS events (
    seq      INTEGER PRIMARY KEY,       -- monotonically increasing, assigned by the single writer
    type     TEXT    NOT NULL,
    topic    TEXT    NOT NULL DEFAULT '',
    ts_event INTEGER NOT NULL,          -- ns since the epoch, UTC
    ts_init  INTEGER NOT NULL,
    payload  TEXT    NOT NULL           -- JSON, see store/codecs.py
);
CREATE INDEX IF NOT EXISTS events_by_type ON events(type, seq);
CREATE TABLE IF NOT EXISTS snapshots (  -- optional state snapshots to shorten replays
    name    TEXT PRIMARY KEY,
    seq     INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

MIGRATIONS: dict[int, str] = {0: _V1}
