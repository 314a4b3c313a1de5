"""One lock per stage output in the workspace, so a stage is computed once.

Two runs that share a stage (the same intermediate checkpoint, the same
target stage) take `locks/<stage key>.lock` before computing it. The first
computes; the others wait, then find the output in place and reuse it.

Why a lock *file* made with O_CREAT|O_EXCL, not fcntl/flock: the workspace may
be on NFS and shared by several machines. O_EXCL creation is atomic on the
server for NFSv3 and later (the Linux client sends an exclusive CREATE), while
fcntl locks depend on a lock daemon (NLM/lockd on v3) that is often missing or
misconfigured, and flock is local-only on older kernels. A file also says who
holds it: run id, pid, host, the process's start time, and a heartbeat.

Stale locks (a holder killed outright leaves its file behind) are broken:

- holder on this host: its process is gone (pid and start time, as
  engine.control tells a live run);
- holder on another host: its heartbeat, rewritten every `heartbeat_s` while
  held, has not changed for `stale_after_s` as seen on this machine's own
  monotonic clock (clock skew between hosts cannot make a live lock look old),
  or its timestamp is older than `stale_after_s` by this machine's clock (a
  lock left long ago is broken without waiting that long; clocks kept by NTP
  are seconds apart, far below `stale_after_s`).

Breaking renames the file aside to a unique name first and checks it is still
the file judged stale; if another waiter broke it and a new holder took it in
between, the new holder's file is linked back. What this cannot cover: a holder
frozen longer than `stale_after_s` on another host (its lock is broken and the
stage computed twice; the checkpoint written first is kept, see
Workspace.move_into_place).

Light module: no torch.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.control import process_alive, process_start_time
from engine.errors import Cancelled

# A holder refreshes its heartbeat this often (seconds) ...
HEARTBEAT_S = 30.0
# ... and a holder on another host is stale after this long without one: ten
# missed heartbeats, so a loaded NFS server or a long GC pause does not break a
# live lock. (Our own choice; no toolkit we follow sets one for this.)
STALE_AFTER_S = 300.0
POLL_S = 0.5


@dataclass(frozen=True)
class LockHolder:
    """What a lock file says about the run that holds it."""

    run_id: str
    pid: int
    host: str
    pid_start: int | None
    heartbeat: float
    token: str

    @classmethod
    def parse(cls, content: bytes) -> LockHolder | None:
        try:
            data = json.loads(content)
            return cls(
                run_id=str(data["run_id"]),
                pid=int(data["pid"]),
                host=str(data["host"]),
                pid_start=data.get("pid_start"),
                heartbeat=float(data["heartbeat"]),
                token=str(data["token"]),
            )
        except (ValueError, KeyError, TypeError):
            return None  # being written, or not ours


class StageLock:
    """The lock on one stage's output. `acquire` waits for a live holder and
    breaks a stale one; the holder keeps a heartbeat going until `release`."""

    def __init__(
        self,
        path: Path,
        run_id: str,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        stale_after_s: float = STALE_AFTER_S,
        poll_s: float = POLL_S,
    ):
        self.path = Path(path)
        self.run_id = run_id
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.poll_s = poll_s
        self.token = secrets.token_hex(8)
        self._beats = 0
        self._stop_beating = threading.Event()
        self._beater: threading.Thread | None = None
        # The content last seen and when it was first seen (monotonic clock).
        self._seen: tuple[bytes, float] | None = None

    # -- taking and giving back ----------------------------------------------
    def acquire(
        self,
        should_stop: Callable[[], bool] = lambda: False,
        on_wait: Callable[[LockHolder | None], None] = lambda holder: None,
        on_break: Callable[[LockHolder | None, str], None] = lambda h, why: None,
    ) -> None:
        """Take the lock; while a live run holds it, call `on_wait(holder)`
        (once per holder) and wait. Cancelled if `should_stop()` while waiting."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        told: str | None = None
        while True:
            if self._try_create():
                self._start_heartbeat()
                return
            content = self._read()
            if content is None:
                continue  # released between our two looks: try again at once
            holder = LockHolder.parse(content)
            why = self._stale_reason(content, holder)
            if why is not None:
                if self._break(content):
                    on_break(holder, why)
                continue
            who = holder.token if holder else ""
            if told != who:
                on_wait(holder)
                told = who
            if should_stop():
                raise Cancelled(
                    "cancelled while waiting for "
                    + (f"run {holder.run_id}" if holder else "another run")
                )
            time.sleep(self.poll_s)

    def release(self) -> None:
        self._stop_beating.set()
        if self._beater is not None:
            self._beater.join()
        content = self._read()
        holder = LockHolder.parse(content) if content else None
        if holder is not None and holder.token == self.token:
            self.path.unlink(missing_ok=True)
        # else: our lock was judged stale and broken; the file is someone else's

    # -- the file --------------------------------------------------------------
    def _content(self) -> bytes:
        pid = os.getpid()
        return json.dumps(
            {
                "run_id": self.run_id,
                "pid": pid,
                "pid_start": process_start_time(pid),
                "host": socket.gethostname(),
                "heartbeat": time.time(),
                # Changes on every beat even if two beats read the same time.
                "beat": self._beats,
                "token": self.token,
            }
        ).encode()

    def _try_create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            return False
        try:
            os.write(fd, self._content())
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def _read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def _start_heartbeat(self) -> None:
        self._stop_beating.clear()
        self._beater = threading.Thread(
            target=self._beat, name=f"stage-lock {self.path.name}", daemon=True
        )
        self._beater.start()

    def _beat(self) -> None:
        while not self._stop_beating.wait(self.heartbeat_s):
            try:
                # Rewritten in place through an fd whose file we checked is
                # ours: if our lock was broken and taken over meanwhile, the
                # path names another file and the new holder's is untouched.
                with open(self.path, "r+b") as fh:
                    holder = LockHolder.parse(fh.read())
                    if holder is None or holder.token != self.token:
                        return
                    self._beats += 1
                    content = self._content()
                    fh.seek(0)
                    fh.write(content)
                    fh.truncate(len(content))
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError:
                return  # the file is gone: nothing left to keep alive

    # -- stale locks -----------------------------------------------------------
    def _stale_reason(self, content: bytes, holder: LockHolder | None) -> str | None:
        """Why the lock in `content` is stale, or None while its holder lives."""
        now = time.monotonic()
        if self._seen is None or self._seen[0] != content:
            self._seen = (content, now)
        unchanged_for = now - self._seen[1]
        if holder is None:
            # Unreadable: being written right now, or left half-written.
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                return None
            if min(age, unchanged_for) > self.stale_after_s:
                return f"its file has been unreadable for {int(age)} s"
            return None
        if holder.host == socket.gethostname():
            if process_alive(holder.pid, holder.pid_start):
                return None
            return f"its process (pid {holder.pid} on {holder.host}) is gone"
        age = time.time() - holder.heartbeat
        if age > self.stale_after_s:
            return (
                f"its heartbeat (host {holder.host}, pid {holder.pid}) is "
                f"{int(age)} s old"
            )
        if unchanged_for > self.stale_after_s:
            return (
                f"its heartbeat (host {holder.host}, pid {holder.pid}) has not "
                f"changed for {int(unchanged_for)} s"
            )
        return None

    def _break(self, seen: bytes) -> bool:
        """Remove the stale lock whose content was `seen`; False if the file
        there is no longer that one (someone else broke or took it)."""
        aside = self.path.with_name(
            f"{self.path.name}.broken-{os.getpid()}-{secrets.token_hex(4)}"
        )
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        try:
            if aside.read_bytes() == seen:
                return True
            # We moved a lock taken (or refreshed) after we looked: put it back,
            # unless a newer holder has created one meanwhile.
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
            return False
        finally:
            aside.unlink(missing_ok=True)


@contextmanager
def holding(lock: StageLock, **acquire: Any) -> Iterator[StageLock]:
    """`with holding(lock, should_stop=..., on_wait=..., on_break=...):`"""
    lock.acquire(**acquire)
    try:
        yield lock
    finally:
        lock.release()
