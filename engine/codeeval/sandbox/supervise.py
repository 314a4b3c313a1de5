"""Watch one sandboxed run from outside until it ends, a limit is hit, or it
is killed.

The supervisor reads the launcher's stdout and stderr (the program's) and its
status channel (JSON objects, one a line: a socket from the namespaces
launcher, which sends the program's pidfd along with its pid; a pipe from
bubblewrap's entry and `--json-status-fd`). It enforces the wall clock and the
output cap, and at the end kills everything: SIGKILL through every pidfd it
holds and to the launcher's process group. It never waits on the program
without a bound.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from typing import IO

from engine.codeeval.sandbox.records import Limits


class Supervisor:
    """Reads a launcher's output and reports until the end, a limit or a kill."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        status: socket.socket | IO[bytes],
        limits: Limits,
        start: float,
        pid_report_key: str | None = None,
    ) -> None:
        if proc.stdout is None or proc.stderr is None:
            raise ValueError("the launcher's stdout and stderr must be pipes")
        self.proc = proc
        self.stdout: IO[bytes] = proc.stdout
        self.stderr: IO[bytes] = proc.stderr
        self.status = status
        """A socket, or a readable pipe (a binary file object)."""
        self.limits = limits
        self.start = start
        self.pid_report_key = pid_report_key
        """A report key whose value is the sandbox's first process, to open a
        pidfd on (when the launcher does not send one)."""
        self.out = bytearray()
        self.err = bytearray()
        self.status_data = bytearray()
        self.pidfds: list[int] = []
        self.limit_hit: tuple[str, str] | None = None
        self.ended: float | None = None

    def run(self) -> None:
        import selectors
        import time

        sel = selectors.DefaultSelector()
        sel.register(self.stdout, selectors.EVENT_READ, self.out)
        sel.register(self.stderr, selectors.EVENT_READ, self.err)
        sel.register(self.status, selectors.EVENT_READ, None)
        deadline = self.start + self.limits.timeout_s
        grace_until: float | None = None
        try:
            while sel.get_map():
                now = time.monotonic()
                if grace_until is None and now >= deadline:
                    self.limit_hit = (
                        "timed_out",
                        f"wall-clock limit of {self.limits.timeout_s:g} s exceeded",
                    )
                    self.ended = now
                    return
                if grace_until is not None and now >= grace_until:
                    return  # leftovers still hold the pipes: killed on return
                wait = (grace_until or deadline) - now
                for key, _ in sel.select(timeout=max(0.0, min(wait, 0.25))):
                    if key.fileobj is self.status:
                        if not self._read_status():
                            sel.unregister(self.status)
                            # The launcher is gone: what is left is leftovers.
                            self.ended = time.monotonic()
                            self.kill_all()
                            grace_until = self.ended + 0.5
                        continue
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fileobj)
                        continue
                    key.data.extend(data)
                    if len(self.out) + len(self.err) > self.limits.max_output_bytes:
                        self.limit_hit = (
                            "error",
                            f"output limit exceeded: more than "
                            f"{self.limits.max_output_bytes} bytes on stdout and "
                            "stderr; cut off and killed",
                        )
                        self.ended = time.monotonic()
                        return
        finally:
            sel.close()
            if self.ended is None:
                self.ended = time.monotonic()

    def _read_status(self) -> bool:
        try:
            if isinstance(self.status, socket.socket):
                data, fds, _flags, _addr = socket.recv_fds(self.status, 65536, 4)
                self.pidfds.extend(fds)
            else:
                data = os.read(self.status.fileno(), 65536)
        except OSError:
            return False
        if not data:
            return False
        before = self.status_data.count(b"\n")
        self.status_data.extend(data)
        if self.pid_report_key and self.status_data.count(b"\n") > before:
            self._open_reported_pidfd()
        return True

    def _open_reported_pidfd(self) -> None:
        """A pidfd on the pid that the launcher named, if it is still the
        launcher's child (so that a reused pid is never killed)."""
        pid = self.reports().get(self.pid_report_key)
        if (
            not isinstance(pid, int)
            or pid <= 0
            or self.pidfds
            or not hasattr(os, "pidfd_open")
        ):
            return
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                parent = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            parent = None
        if parent == self.proc.pid:
            self.pidfds.append(fd)
        else:
            os.close(fd)

    def kill_all(self) -> None:
        for fd in self.pidfds:
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass

    def reap(self) -> float | None:
        """Wait for the launcher (killed by now); its CPU seconds and those of
        every descendant it waited for (None where it was reaped already)."""
        if self.proc.returncode is not None:
            return None
        try:
            _, status, usage = os.wait4(self.proc.pid, 0)
        except ChildProcessError:
            self.proc.wait()
            return None
        self.proc.returncode = (
            -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        )
        return round(usage.ru_utime + usage.ru_stime, 3)

    def close(self) -> None:
        for stream in (self.stdout, self.stderr):
            stream.close()
        self.status.close()
        for fd in self.pidfds:
            os.close(fd)
        self.pidfds = []

    def reports(self) -> dict:
        merged: dict = {}
        for line in bytes(self.status_data).splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                merged.update(record)
        return merged
