"""Durable state for `tessera localnet --ledger DIR`: SQLite, one transaction per commit.

Every committed Solana transaction is written with the post-state of every
account it touched in a single SQLite transaction (WAL, synchronous=FULL),
so a kill -9 at any point leaves either all of it or none of it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from solders.account import Account
from solders.pubkey import Pubkey

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    pubkey TEXT PRIMARY KEY, lamports INTEGER NOT NULL, data BLOB NOT NULL,
    owner TEXT NOT NULL, executable INTEGER NOT NULL, rent_epoch INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, signature TEXT UNIQUE NOT NULL, record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class StoredAccount:
    pubkey: Pubkey
    account: Account


class Ledger:
    """A ledger directory; `None` paths are not used: in-memory chains have no Ledger."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "ledger.sqlite3"
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    @classmethod
    def reset(cls, directory: Path) -> Ledger:
        for suffix in ("", "-wal", "-shm"):
            (directory / f"ledger.sqlite3{suffix}").unlink(missing_ok=True)
        return cls(directory)

    def close(self) -> None:
        self._db.close()

    def get_state(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))

    def commit(self, signature: str, record: dict, accounts: list[StoredAccount], state: dict[str, str]) -> None:
        """Writes a transaction, the accounts it left behind and the chain's state, atomically."""
        with self._db:  # BEGIN ... COMMIT, rolled back on error
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT INTO transactions (signature, record) VALUES (?, ?)", (signature, json.dumps(record)))
            self._db.executemany(
                "INSERT OR REPLACE INTO accounts VALUES (?, ?, ?, ?, ?, ?)",
                [(str(a.pubkey), a.account.lamports, bytes(a.account.data), str(a.account.owner),
                  int(a.account.executable), a.account.rent_epoch) for a in accounts],
            )
            self._db.executemany("INSERT OR REPLACE INTO state VALUES (?, ?)", list(state.items()))

    def accounts(self) -> Iterator[StoredAccount]:
        for pubkey, lamports, data, owner, executable, rent_epoch in self._db.execute("SELECT * FROM accounts"):
            yield StoredAccount(Pubkey.from_string(pubkey),
                                Account(lamports, bytes(data), Pubkey.from_string(owner), bool(executable), rent_epoch))

    def transactions(self) -> Iterator[dict]:
        for (record,) in self._db.execute("SELECT record FROM transactions ORDER BY seq"):
            yield json.loads(record)
