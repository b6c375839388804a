"""A durable spool for commands: SQLite in WAL mode, from the standard library.

A command is written (and, with ``synchronous="full"``, fsynced) before the caller's call returns.
It leaves the file only when the server accepted it; a command the server refused stays as a *dead
letter* for inspection, export or another try (``ga-ee-bridge spool``).

Several processes may share one spool (a gunicorn master and its forked workers): each process is an
*owner* and sends only its own commands. An owner holds an exclusive ``flock`` on
``<spool>.owners/<owner>.lock`` for as long as it lives; when a process dies (even by SIGKILL) the
kernel releases the lock, and the next process to look (at start, then now and then) takes over the
dead owner's pending commands and sends them.

With ``synchronous="full"``, writers from many threads are combined (*group commit*): while one
transaction is being written and fsynced, the calls that arrive queue up and go in the next one,
so it costs one fsync per group rather than one per call. Every call still returns only once the
transaction holding its commands is committed and fsynced: grouping changes who pays for the
fsync, never what is on disk when a call returns. The next group's leader gives the callers of the
previous group a moment (at most half that commit's time, 2 ms) to come back, so that threads
calling in a loop share one group instead of two taking turns (after a wait in vain, when none
came back, only one group in 16 waits: callers that come now and then are rarely held up). The
sender's deletes of accepted commands (by id ranges) and its dead letters go in the same group
transactions. A fault of the file (disk full, I/O error, read-only, locked) is a
:class:`SpoolError` naming the spool and the cause; a write that failed is rolled back and stored
nothing (when a group fails because the spool is full, each of its writes is tried alone, so the
deletes that make room still go in).

A single thread gains nothing from grouping: each of its calls waits for its own fsync, so it is
bound by the disk's fsync rate (``bench_sender.py`` measures that floor); ``send_commands`` with
many commands, or ``synchronous="normal"``, store more per fsync.
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

from ga_ee_bridge.errors import SpoolError

__all__ = ["DeadLetter", "Spool", "SpoolError", "id_ranges"]

logger = logging.getLogger("ga_ee_bridge.send.spool")

PENDING = "pending"
DEAD = "dead"
_ORPHAN = ""  # owner of commands put back by `spool retry`: anyone may take them
#: Seconds a write waits for another process's transaction on the same spool before failing.
BUSY_TIMEOUT = 30.0

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


def _dumps(command: Mapping[str, Any] | str) -> str:
    if isinstance(command, str):
        return command
    return json.dumps(command, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


#: SQLite's primary result codes -> the cause a user reads.
_CAUSES = {
    5: "locked by another process", 6: "locked", 8: "read-only", 10: "I/O error",
    11: "corrupt", 13: "disk full", 14: "cannot open the file", 26: "not a spool (not SQLite)",
}


def id_ranges(ids: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted ids as inclusive ``(first, last)`` runs of consecutive ids: [1,2,3,7] -> 1-3, 7-7."""
    runs: list[tuple[int, int]] = []
    for i in sorted(set(ids)):
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


class _Write:
    """One caller's rows (or the sender's deletes), waiting for the group transaction."""

    __slots__ = ("accepted", "dead", "error", "failed", "finished", "ids", "meta", "texts",
                 "thread", "wake")

    def __init__(self, texts: list[str], meta: tuple[str, str] | None,
                 dead: list[tuple[str, str]],
                 accepted: list[tuple[int, int]] | None = None,
                 failed: list[tuple[str, float, int | None, str, int]] | None = None) -> None:
        self.texts = texts
        self.meta = meta
        self.dead = dead
        self.accepted = accepted or []  # id ranges to delete (finish)
        self.failed = failed or []  # rows turned into dead letters (finish)
        # The caller's thread; None for the sender's finish(), which the next group never waits
        # for (it comes back only after its next request).
        self.thread: int | None = None if accepted or failed else threading.get_ident()
        self.ids: list[int] = []
        self.error: SpoolError | None = None
        self.finished = False
        # Held until the write is stored or handed the lead (released once for each): a bare
        # lock is the cheapest wait and wake-up there is (an Event costs a Condition each).
        self.wake = threading.Lock()
        self.wake.acquire()


#: A group's leader waits for the writers of the previous group to come back (a thread that tracks
#: in a loop is back within microseconds) at most this fraction of the previous commit's time...
REJOIN_FRACTION = 0.5
#: ... and never longer than this many seconds.
REJOIN_LIMIT = 0.002
#: After a wait in vain (callers that track now and then, not in a loop), the next groups commit
#: at once; one in this many waits again, to notice callers that loop.
REJOIN_PROBE = 16


class Spool:
    """One SQLite spool file; thread-safe (one connection behind a lock), shareable by processes."""

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "full",
                 max_bytes: int | None = None, group_commit: bool | None = None) -> None:
        """Open (or create) the spool at ``path``.

        ``max_bytes`` caps the database file (writes beyond it fail as "disk full", exactly as a
        full disk does). ``group_commit`` combines concurrent writers into one transaction; by
        default it is on with ``synchronous="full"`` (they share one fsync) and off with
        ``"normal"`` (no fsync to share: measured no faster, sometimes slower).
        """
        if synchronous.lower() not in ("full", "normal"):
            raise ValueError(f"synchronous must be 'full' or 'normal', got {synchronous!r}")
        if max_bytes is not None and max_bytes < 16 * 4096:
            raise ValueError(f"max_bytes must be at least 65536, got {max_bytes!r}")
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self.max_bytes = max_bytes
        self.group_commit = (self.synchronous == "FULL") if group_commit is None else group_commit
        #: Write transactions of :meth:`add` and :meth:`finish` committed by this process (to see
        #: group commit work).
        self.commits = 0
        self._owners_dir = self.path.with_name(self.path.name + ".owners")
        self._init_locks()
        self._closed = False
        self._conn: sqlite3.Connection | None = self._connect()
        self._owner: str | None = None
        self._owner_fd: int | None = None

    def _init_locks(self) -> None:
        self._lock = threading.Lock()  # the connection
        # The waiting writers, who leads; an RLock for a wait Ctrl-C cannot break (see Sender).
        self._group = threading.Condition(threading.RLock())
        self._waiting: list[_Write] = []
        self._leading = False
        self._last_group: frozenset[int] = frozenset()  # caller threads of the last group
        self._last_seconds = 0.0  # how long its commit took
        self._in_vain = False  # the last wait for them timed out
        self._unwaited = 0  # groups committed without waiting since then
        self._awaited: set[int] = set()  # the threads a leader waits for that are not back yet

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r})"

    def error(self, error: BaseException) -> SpoolError:
        """``error`` (``sqlite3.Error`` or ``OSError``) as a :class:`SpoolError` of this spool."""
        if isinstance(error, SpoolError):
            return error
        if isinstance(error, sqlite3.Error):
            code = getattr(error, "sqlite_errorcode", None)
            cause = _CAUSES.get(code & 0xFF, "database error") if code is not None else (
                "database error")
        else:
            errno = getattr(error, "errno", None)
            cause = ("disk full" if errno == 28 else os.strerror(errno) if errno
                     else "cannot write")
        return SpoolError(str(self.path), cause, detail=str(error))

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.executescript(_SCHEMA)
            if self.max_bytes is not None:
                page = int(conn.execute("PRAGMA page_size").fetchone()[0])
                conn.execute(f"PRAGMA max_page_count={max(16, self.max_bytes // page)}")
        except (sqlite3.Error, OSError) as error:
            raise self.error(error) from error
        return conn

    @contextlib.contextmanager
    def _transaction(self) -> Any:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` on the connection (lock held); faults as SpoolError.

        A failed transaction is rolled back when SQLite has not already done so, and the real cause
        (not "no transaction is active") is what the caller sees.
        """
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except (sqlite3.Error, OSError) as error:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise self.error(error) from error
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def _connection(self) -> sqlite3.Connection:
        """The connection, opened now in a forked child that had not used the spool yet."""
        if self._conn is None:
            if self._closed:
                raise SpoolError(str(self.path), "closed")
            self._conn = self._connect()
        return self._conn

    def _query(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._connection().execute(sql, parameters).fetchall()
            except sqlite3.Error as error:
                raise self.error(error) from error

    # -- ownership ---------------------------------------------------------------------------

    @property
    def owner(self) -> str:
        """This process's owner token, registered (and its lock taken) on first use."""
        if self._owner is None:
            owner = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
            try:
                self._owners_dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(self._owners_dir / f"{owner}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as error:
                raise self.error(error) from error
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._owner, self._owner_fd = owner, fd
        return self._owner

    def claim_orphans(self) -> int:
        """Take over the pending commands of owners that are gone; returns how many."""
        me = self.owner
        rows = self._query("SELECT DISTINCT owner FROM commands WHERE state = ? AND owner != ?",
                           (PENDING, me))
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
            with self._transaction() as conn:
                cursor = conn.execute(
                    "UPDATE commands SET owner = ? WHERE owner = ? AND state = ?",
                    (me, owner, PENDING))
                count = cursor.rowcount
                conn.execute(
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
        if self._conn is not None:
            _abandoned.append(self._conn)  # closing it here could disturb the parent's file
        self._init_locks()
        self._conn = None  # opened on first use: a child that never tracks never opens it
        if self._owner_fd is not None:
            os.close(self._owner_fd)  # the parent's lock survives: flock is per open file
        self._owner = None
        self._owner_fd = None

    def close(self) -> None:
        """Close the database and give up ownership (pending commands stay for the next process)."""
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        if self._owner_fd is not None:
            os.close(self._owner_fd)
            self._owner_fd = None

    # -- the queue ---------------------------------------------------------------------------

    def add(self, commands: Sequence[Mapping[str, Any] | str], *,
            meta: tuple[str, str] | None = None,
            dead: Sequence[tuple[Mapping[str, Any] | str, str]] = ()) -> list[int]:
        """Write commands as pending (durable on return); returns their ids, in order.

        Commands are mappings or their JSON text. ``meta`` (key, value) is stored in the same
        transaction (``send`` records its progress), and so are ``dead`` ``(command, reason)``
        pairs, stored at once as dead letters (lines ``send`` could not read). Concurrent calls
        share one transaction (group commit). Raises :class:`SpoolError` when the spool cannot
        store them; then nothing of this call is stored.
        """
        write = _Write([_dumps(c) for c in commands], meta,
                       [(_dumps(c), reason) for c, reason in dead])
        self._store(write)
        return write.ids

    def _store(self, write: _Write) -> None:
        """Commit ``write``: alone, or in the next group transaction; raises its error."""
        owner = self.owner
        if not self.group_commit:
            self._commit([write], owner)
        else:
            with self._group:
                self._waiting.append(write)
                lead = not self._leading
                self._leading = True
                awaited = self._awaited
                if awaited and write.thread in awaited:
                    awaited.discard(write.thread)
                    if not awaited:  # the leader waits for the last of them only: one wake-up
                        self._group.notify()
            if not lead:
                write.wake.acquire()  # stored by a leader, or handed the lead
            if not write.finished:
                self._lead(owner)
        if write.error is not None:
            raise write.error

    def _lead(self, owner: str) -> None:
        """Commit every waiting write in one transaction, then hand the lead to a newcomer.

        Callers that tracked in the previous group and are not waiting yet are given a moment
        (at most half that group's commit time, 2 ms) to come back: otherwise threads that call in
        a loop split into two groups that take turns, each half as large. After a wait in vain
        (none came back) only one group in :data:`REJOIN_PROBE` waits, so callers that come now
        and then are rarely held up.
        """
        with self._group:
            if len(self._last_group) > 1:
                if not self._in_vain or self._unwaited >= REJOIN_PROBE - 1:
                    self._in_vain = not self._rejoined(self._last_group)
                    self._unwaited = 0
                else:
                    self._unwaited += 1
            batch, self._waiting = self._waiting, []
        started = time.monotonic()
        try:
            self._commit(batch, owner)
        finally:
            with self._group:
                self._last_seconds = time.monotonic() - started
                self._last_group = frozenset(w.thread for w in batch if w.thread is not None)
                if self._waiting:
                    self._waiting[0].wake.release()  # it leads the next group
                else:
                    self._leading = False
            for write in batch:
                write.wake.release()

    def _rejoined(self, expected: frozenset[int]) -> bool:
        """With ``self._group`` held: wait (bounded) for ``expected`` threads to be waiting.

        False when none of those missing came back (a straggler among callers that loop does
        not count as a wait in vain).
        """
        deadline = time.monotonic() + min(REJOIN_LIMIT, self._last_seconds * REJOIN_FRACTION)
        missing = set(expected - {w.thread for w in self._waiting})
        count = len(missing)
        self._awaited = missing  # writers take themselves out; the last one notifies
        try:
            while missing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._group.wait(remaining)
        finally:
            self._awaited = set()
        return len(missing) < count or not count

    def _commit(self, writes: list[_Write], owner: str) -> None:
        """Store every write of a group in one transaction; each gets its ids or the error.

        When a group of several fails because the spool is full, each write is tried again on
        its own: the sender's deletes (which make room) and the writes that fit still go in.
        """
        try:
            self._transact(writes, owner)
        except SpoolError as error:
            if len(writes) > 1 and error.cause == "disk full":
                for write in writes:
                    self._commit([write], owner)
                return
            for write in writes:
                write.ids, write.error = [], error
        finally:
            for write in writes:
                write.finished = True

    def _transact(self, writes: list[_Write], owner: str) -> None:
        """One transaction storing ``writes``; their ids are set only once it committed."""
        now = time.time()
        ids: list[list[int]] = []
        with self._transaction() as conn:
            for write in writes:
                if write.accepted:
                    conn.executemany("DELETE FROM commands WHERE id BETWEEN ? AND ?",
                                     write.accepted)
                if write.failed:
                    conn.executemany(
                        "UPDATE commands SET state = ?, failed_at = ?, status = ?, reason = ? "
                        "WHERE id = ?", write.failed)
                if write.texts:
                    conn.executemany(
                        "INSERT INTO commands (owner, command, created) VALUES (?, ?, ?)",
                        [(owner, text, now) for text in write.texts])
                    last = int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])
                    ids.append(list(range(last - len(write.texts) + 1, last + 1)))
                else:
                    ids.append([])
                if write.dead:
                    conn.executemany(
                        "INSERT INTO commands (owner, state, command, created, failed_at, "
                        "reason) VALUES (?, ?, ?, ?, ?, ?)",
                        [(_ORPHAN, DEAD, text, now, now, reason)
                         for text, reason in write.dead])
                if write.meta is not None:
                    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                 write.meta)
        self.commits += 1
        for write, got in zip(writes, ids, strict=True):
            write.ids = got

    def take(self, limit: int, *, after: int = 0) -> list[tuple[int, dict[str, Any]]]:
        """This owner's pending commands with id > ``after``, oldest first (they stay on disk)."""
        return [(i, json.loads(text)) for i, text in self.take_encoded(limit, after=after)]

    def take_encoded(self, limit: int, *, after: int = 0,
                     skip: Iterable[int] = ()) -> list[tuple[int, str]]:
        """As :meth:`take`, with each command as the JSON text stored (and sent).

        Ids in ``skip`` (accepted, not yet deleted) are left out.
        """
        owner = self.owner
        skipped = set(skip)
        rows = self._query(
            "SELECT id, command FROM commands WHERE state = ? AND owner = ? AND id > ? "
            "ORDER BY id LIMIT ?", (PENDING, owner, after, limit + len(skipped)))
        return [(int(i), str(text)) for i, text in rows if i not in skipped][:limit]

    def finish(self, accepted: Iterable[int],
               dead: Iterable[tuple[int, int | None, str]] = ()) -> None:
        """Delete accepted commands (by id ranges), turn ``(id, status, reason)`` into dead
        letters; atomically, durable on return, in the next group transaction with concurrent
        writers. Raises :class:`SpoolError` (and changes nothing) on a fault.
        """
        accepted, dead = list(accepted), list(dead)
        if not accepted and not dead:
            return
        now = time.time()
        self._store(_Write([], None, [], id_ranges(accepted),
                           [(DEAD, now, status, reason, i) for i, status, reason in dead]))

    # -- inspection --------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many commands are ``pending`` and ``dead``."""
        rows = self._query("SELECT state, COUNT(*) FROM commands GROUP BY state")
        found = {str(state): int(n) for state, n in rows}
        return {PENDING: found.get(PENDING, 0), DEAD: found.get(DEAD, 0)}

    def dead_letters(self, ids: Iterable[int] | None = None) -> list[DeadLetter]:
        """The dead letters (all, or those with the given ids), oldest first."""
        query = ("SELECT id, command, reason, status, failed_at FROM commands WHERE state = ? "
                 "ORDER BY id")
        rows = self._query(query, (DEAD,))
        wanted = set(ids) if ids is not None else None
        return [
            DeadLetter(json.loads(text), reason or "", status, failed_at or 0.0, int(i))
            for i, text, reason, status, failed_at in rows
            if wanted is None or i in wanted
        ]

    def dead_count(self, command_id_prefix: str) -> int:
        """How many dead letters have a ``command_id`` starting with ``command_id_prefix``."""
        rows = self._query(
            "SELECT COUNT(*) FROM commands WHERE state = ? AND "
            "substr(json_extract(command, '$.command_id'), 1, ?) = ?",
            (DEAD, len(command_id_prefix), command_id_prefix))
        return int(rows[0][0])

    def retry(self, ids: Iterable[int] | None = None) -> int:
        """Put dead letters (all, or the given ids) back as pending for anyone; returns count.

        Dead letters that are not commands (lines ``send`` could not read) stay where they are.
        """
        sql = ("UPDATE commands SET state = ?, owner = ?, failed_at = NULL, status = NULL, "
               "reason = NULL WHERE state = ? AND json_extract(command, '$.name') IS NOT NULL")
        with self._transaction() as conn:
            if ids is None:
                return max(conn.execute(sql, (PENDING, _ORPHAN, DEAD)).rowcount, 0)
            return sum(max(conn.execute(sql + " AND id = ?", (PENDING, _ORPHAN, DEAD, i)
                                        ).rowcount, 0) for i in ids)

    def get_meta(self, key: str) -> str | None:
        """A value stored with :meth:`add` (``meta=``) or :meth:`set_meta`."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return None if not rows else str(rows[0][0])

    def meta_items(self, prefix: str) -> dict[str, str]:
        """Every stored ``key: value`` whose key starts with ``prefix``."""
        rows = self._query("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?",
                           (len(prefix), prefix))
        return {str(k): str(v) for k, v in rows}

    def set_meta(self, key: str, value: str) -> None:
        """Store a small value (e.g. progress) in the spool."""
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        """Forget a stored value."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))


# Connections inherited across fork(): kept referenced so that garbage collection never closes
# (and checkpoints) them in the child.
_abandoned: list[sqlite3.Connection] = []
