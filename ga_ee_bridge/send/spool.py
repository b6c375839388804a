"""A durable spool for commands: SQLite in WAL mode, from the standard library.

A command is written (and, with ``synchronous="full"``, fsynced) before the caller's call returns.
It leaves the file only when the server accepted it; a command the server refused stays as a *dead
letter* for inspection, export or another try (``ga-ee-bridge spool``).

Several processes may share one spool (a gunicorn master and its forked workers): each process is an
*owner* and sends only its own commands. An owner holds an exclusive ``flock`` on
``<spool>.owners/<owner>.lock`` for as long as it lives; when a process dies (even by SIGKILL) the
kernel releases the lock, and the next process to look (at start, then now and then) takes over the
dead owner's pending commands and sends them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DeadLetter", "Spool"]

logger = logging.getLogger("ga_ee_bridge.send.spool")

PENDING = "pending"
DEAD = "dead"
_ORPHAN = ""  # owner of commands put back by `spool retry`: anyone may take them

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    command TEXT NOT NULL,
    created REAL NOT NULL,
    failed_at REAL,
    status INTEGER,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS commands_by_state ON commands (state, owner, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class DeadLetter:
    """A command the server refused (or that ran out of retries): why, when, and the command."""

    command: Mapping[str, Any]
    reason: str
    status: int | None
    failed_at: float
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``spool list --json``)."""
        return {"id": self.id, "failed_at": self.failed_at, "status": self.status,
                "reason": self.reason, "command": dict(self.command)}


def _dumps(command: Mapping[str, Any]) -> str:
    return json.dumps(command, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class Spool:
    """One SQLite spool file; thread-safe (one connection behind a lock), shareable by processes."""

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "full") -> None:
        if synchronous.lower() not in ("full", "normal"):
            raise ValueError(f"synchronous must be 'full' or 'normal', got {synchronous!r}")
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self._owners_dir = self.path.with_name(self.path.name + ".owners")
        self._lock = threading.Lock()
        self._conn = self._connect()
        self._owner: str | None = None
        self._owner_fd: int | None = None

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.executescript(_SCHEMA)
        return conn

    # -- ownership ---------------------------------------------------------------------------

    @property
    def owner(self) -> str:
        """This process's owner token, registered (and its lock taken) on first use."""
        if self._owner is None:
            self._owners_dir.mkdir(parents=True, exist_ok=True)
            owner = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
            fd = os.open(self._owners_dir / f"{owner}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._owner, self._owner_fd = owner, fd
        return self._owner

    def claim_orphans(self) -> int:
        """Take over the pending commands of owners that are gone; returns how many."""
        me = self.owner
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT owner FROM commands WHERE state = ? AND owner != ?",
                (PENDING, me)).fetchall()
        candidates = {r[0] for r in rows}
        with contextlib.suppress(OSError):
            candidates.update(p.stem for p in self._owners_dir.glob("*.lock"))
        candidates.discard(me)
        claimed = 0
        for owner in sorted(candidates):
            claimed += self._claim(owner, me)
        if claimed:
            logger.info("spool %s: took over %d pending commands of a previous process",
                        self.path, claimed)
        return claimed

    def _claim(self, owner: str, me: str) -> int:
        lock_path = self._owners_dir / f"{owner}.lock"
        fd: int | None = None
        if owner != _ORPHAN:
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return 0
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # alive: its owner still holds the lock
                return 0
        try:
            with self._lock:
                cursor = self._conn.execute(
                    "UPDATE commands SET owner = ? WHERE owner = ? AND state = ?",
                    (me, owner, PENDING))
                count = cursor.rowcount
                self._conn.execute(
                    "UPDATE commands SET owner = ? WHERE owner = ? AND state = ?",
                    (_ORPHAN, owner, DEAD))
            if fd is not None:
                lock_path.unlink(missing_ok=True)
            return max(count, 0)
        finally:
            if fd is not None:
                os.close(fd)

    def reset_after_fork(self) -> None:
        """In a forked child: a new connection, lock and owner (the parent keeps its own)."""
        _abandoned.append(self._conn)  # closing it here could disturb the parent's file
        self._lock = threading.Lock()
        self._conn = self._connect()
        if self._owner_fd is not None:
            os.close(self._owner_fd)  # the parent's lock survives: flock is per open file
        self._owner = None
        self._owner_fd = None

    def close(self) -> None:
        """Close the database and give up ownership (pending commands stay for the next process)."""
        with self._lock:
            self._conn.close()
        if self._owner_fd is not None:
            os.close(self._owner_fd)
            self._owner_fd = None

    # -- the queue ---------------------------------------------------------------------------

    def add(self, commands: Sequence[Mapping[str, Any]], *,
            meta: tuple[str, str] | None = None) -> list[int]:
        """Write commands as pending (one transaction, durable on return); returns their ids.

        ``meta`` (key, value) is stored in the same transaction (``send`` records its progress).
        """
        owner = self.owner
        now = time.time()
        texts = [_dumps(c) for c in commands]
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                ids = [
                    int(conn.execute(
                        "INSERT INTO commands (owner, command, created) VALUES (?, ?, ?)",
                        (owner, text, now)).lastrowid or 0)
                    for text in texts
                ]
                if meta is not None:
                    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return ids

    def take(self, limit: int, *, after: int = 0) -> list[tuple[int, dict[str, Any]]]:
        """This owner's pending commands with id > ``after``, oldest first (they stay on disk)."""
        owner = self.owner
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, command FROM commands WHERE state = ? AND owner = ? AND id > ? "
                "ORDER BY id LIMIT ?", (PENDING, owner, after, limit)).fetchall()
        return [(int(i), json.loads(text)) for i, text in rows]

    def finish(self, accepted: Iterable[int],
               dead: Iterable[tuple[int, int | None, str]] = ()) -> None:
        """Delete accepted commands, turn ``(id, status, reason)`` into dead letters; atomically."""
        accepted, dead = list(accepted), list(dead)
        if not accepted and not dead:
            return
        now = time.time()
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("DELETE FROM commands WHERE id = ?", [(i,) for i in accepted])
                conn.executemany(
                    "UPDATE commands SET state = ?, failed_at = ?, status = ?, reason = ? "
                    "WHERE id = ?", [(DEAD, now, status, reason, i) for i, status, reason in dead])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # -- inspection --------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many commands are ``pending`` and ``dead``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT state, COUNT(*) FROM commands GROUP BY state").fetchall()
        found = {str(state): int(n) for state, n in rows}
        return {PENDING: found.get(PENDING, 0), DEAD: found.get(DEAD, 0)}

    def dead_letters(self, ids: Iterable[int] | None = None) -> list[DeadLetter]:
        """The dead letters (all, or those with the given ids), oldest first."""
        query = ("SELECT id, command, reason, status, failed_at FROM commands WHERE state = ? "
                 "ORDER BY id")
        with self._lock:
            rows = self._conn.execute(query, (DEAD,)).fetchall()
        wanted = set(ids) if ids is not None else None
        return [
            DeadLetter(json.loads(text), reason or "", status, failed_at or 0.0, int(i))
            for i, text, reason, status, failed_at in rows
            if wanted is None or i in wanted
        ]

    def retry(self, ids: Iterable[int] | None = None) -> int:
        """Put dead letters (all, or the given ids) back as pending for anyone; returns count."""
        with self._lock:
            if ids is None:
                cursor = self._conn.execute(
                    "UPDATE commands SET state = ?, owner = ?, failed_at = NULL, status = NULL, "
                    "reason = NULL WHERE state = ?", (PENDING, _ORPHAN, DEAD))
                return max(cursor.rowcount, 0)
            self._conn.execute("BEGIN IMMEDIATE")
            count = 0
            for i in ids:
                count += self._conn.execute(
                    "UPDATE commands SET state = ?, owner = ?, failed_at = NULL, status = NULL, "
                    "reason = NULL WHERE state = ? AND id = ?", (PENDING, _ORPHAN, DEAD, i)
                ).rowcount
            self._conn.execute("COMMIT")
            return count

    def get_meta(self, key: str) -> str | None:
        """A value stored with :meth:`add` (``meta=``) or :meth:`set_meta`."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a small value (e.g. progress) in the spool."""
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                               (key, value))


# Connections inherited across fork(): kept referenced so that garbage collection never closes
# (and checkpoints) them in the child.
_abandoned: list[sqlite3.Connection] = []
