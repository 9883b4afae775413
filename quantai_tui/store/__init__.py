"""The event store: one append-only SQLite file per profile (aiosqlite, WAL)."""
