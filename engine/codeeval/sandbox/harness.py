"""Tests judged from outside the program: the harness and the program's server.

Why. When a program and its tests share one interpreter, nothing in that
interpreter can tell the evaluator "the tests passed" in a way the program
cannot imitate: whatever the harness can do, the program's code can do first
(read the marker out of its caller's frame with `sys._getframe(1).f_locals`,
or find it by walking frames or the heap, print it, then `os._exit(0)`). A
secret only helps if it never enters the program's process, and an in-process
harness must hold it. So the verdict is taken out of the program's process.

How. With `run_program(source, limits, tests=...)` the bootstrap (before any
of the program's code runs) makes two pipes and forks:

- the **program process** (the child) installs the guard, runs the program's
  source as `__main__`, says "ready", then serves requests from the harness
  about its module's globals until the harness hangs up;
- the **harness process** (the parent, the process the launcher started and
  whose exit status the launcher reports) never runs a line of the program's
  code. It marks itself non-dumpable (PR_SET_DUMPABLE 0), so that the program,
  running as the same user without capabilities, can neither ptrace it nor
  read or write its memory through /proc. It runs the tests in a namespace
  whose missing names are looked up in the program: a function becomes a
  stub that calls it over the pipe, a module is imported afresh here, plain
  data is copied. Arguments and results cross as plain data only (None,
  bool, int, float, complex, str, bytes, and list, tuple, set, frozenset and
  dict of those, exact types, no subclasses), decoded by this module's own
  decoder: nothing the program sends can run code here or compare equal by a
  trick of its own (an object whose __eq__ always says True is refused).

The verdict is the harness's exit status: 0 once every test statement ran,
else the test's own traceback (its last line is the reason). A program that
exits or dies before or while answering ends the harness the same way (its
exit status, or its signal re-raised), and exit status 0 before the tests
finished reads "ended before its tests finished". There is no marker to forge.

What it does not stop: the program can read the tests (they are not secret;
HumanEval's are public) and answer them from a table; it can kill the harness
(an "error" verdict, never a pass). Tests that check how the program mutated
an argument see no mutation (the argument is a copy).

Like the bootstrap and the guard, this file runs inside the sandboxed
interpreter, which may not see this package: the bootstrap receives its source
text. Standard library only; importing it does nothing.
"""

from __future__ import annotations

import json
import os
import struct
import sys

_HEADER = struct.Struct("!I")
MAX_MESSAGE = 64 * 1024 * 1024
PR_SET_DUMPABLE = 4
ENDED_EARLY = "xlt sandbox: the program ended before its tests finished"
"""The harness's last line when the program exits with status 0 mid-tests."""
KILLED_BY = "xlt sandbox: the program was killed by signal "
"""The harness's last line, with the number, when a signal ended the program:
the harness dies of the same signal where it can, but as pid 1 of its pid
namespace (the namespaces backend) the kernel ignores it, so it exits."""


class NotPlainData(TypeError):
    """A value that cannot cross between the program and the harness."""


def encode(value, depth: int = 0):
    """`value` as JSON-ready data; NotPlainData for anything else."""
    if depth > 100:
        raise NotPlainData("nested more than 100 levels deep")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return ["float", repr(value)]
    if kind is complex:
        return ["complex", [repr(value.real), repr(value.imag)]]
    if kind is bytes:
        return ["bytes", value.hex()]
    if kind in (list, tuple, set, frozenset):
        return [kind.__name__, [encode(v, depth + 1) for v in value]]
    if kind is dict:
        return [
            "dict",
            [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()],
        ]
    raise NotPlainData(f"a {kind.__name__} is not plain data")


_CONTAINERS = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}


def decode(data):
    """The value `encode` made; builds builtin types only."""
    if data is None or type(data) in (bool, int, str):
        return data
    if type(data) is not list or len(data) != 2 or type(data[0]) is not str:
        raise ValueError(f"not an encoded value: {str(data)[:80]}")
    tag, payload = data
    if tag == "float":
        return float(payload)
    if tag == "complex":
        return complex(float(payload[0]), float(payload[1]))
    if tag == "bytes":
        return bytes.fromhex(payload)
    if tag in _CONTAINERS:
        return _CONTAINERS[tag](decode(v) for v in payload)
    if tag == "dict":
        return {decode(k): decode(v) for k, v in payload}
    raise ValueError(f"unknown tag {tag!r}")


class Channel:
    """Length-prefixed JSON messages over a pair of pipes."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self._read = os.read  # (kept: the guard may change `os` later)
        self._write = os.write

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        data = _HEADER.pack(len(body)) + body
        while data:
            data = data[self._write(self.write_fd, data) :]

    def _exactly(self, size: int) -> bytes | None:
        chunks = []
        while size:
            chunk = self._read(self.read_fd, min(size, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def receive(self) -> dict | None:
        """The next message, None when the other side is gone."""
        header = self._exactly(_HEADER.size)
        if header is None:
            return None
        (size,) = _HEADER.unpack(header)
        if size > MAX_MESSAGE:
            raise ValueError(f"a message of {size} bytes")
        body = self._exactly(size)
        if body is None:
            return None
        message = json.loads(body)
        if type(message) is not dict:
            raise ValueError("a message that is not an object")
        return message


# The program's side.


def serve(channel: Channel, namespace: dict) -> None:
    """Answer the harness's lookups and calls until it hangs up."""
    import types

    channel.send({"ready": True})
    while True:
        request = channel.receive()
        if request is None:
            return
        name = request.get("name")
        if request.get("op") == "lookup":
            reply: dict = {"kind": "missing"}
            if name in namespace:
                value = namespace[name]
                if isinstance(value, types.ModuleType):
                    reply = {"kind": "module", "module": value.__name__}
                elif callable(value):
                    reply = {"kind": "callable"}
                else:
                    try:
                        reply = {"kind": "value", "value": encode(value)}
                    except NotPlainData as exc:
                        reply = {"kind": "opaque", "why": str(exc)}
        else:
            try:
                args = decode(request["args"])
                kwargs = decode(request["kwargs"])
                result = namespace[name](*args, **kwargs)
                reply = {"result": encode(result)}
            except NotPlainData as exc:
                reply = {"raised": "TypeError", "message": f"its result: {exc}"}
            except BaseException as exc:  # noqa: BLE001 - the test sees it
                reply = {"raised": type(exc).__name__, "message": str(exc)[:2000]}
        try:
            sys.stdout.flush()
        except Exception:  # noqa: BLE001
            pass
        channel.send(reply)


# The harness's side.


class ProgramGone(BaseException):
    """The program process stopped answering (not an Exception: a test's
    `except Exception` must not swallow it)."""


class RemoteFunction:
    """A function of the program, called in the program's process."""

    def __init__(self, channel: Channel, name: str) -> None:
        self._channel = channel
        self.__name__ = name

    def __repr__(self) -> str:
        return f"<the program's {self.__name__}>"

    def __call__(self, *args, **kwargs):
        try:
            encoded = {"args": encode(args), "kwargs": encode(kwargs)}
        except NotPlainData as exc:
            raise TypeError(
                f"{self.__name__}(): an argument is not plain data: {exc}"
            ) from None
        reply = _ask(self._channel, {"op": "call", "name": self.__name__, **encoded})
        if "raised" in reply:
            raise _exception(str(reply["raised"]), str(reply.get("message", "")))
        return decode(reply["result"])


def _exception(name: str, message: str) -> BaseException:
    import builtins

    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls(message)
    return RuntimeError(f"{name}: {message}")


def _ask(channel: Channel, request: dict) -> dict:
    channel.send(request)
    reply = channel.receive()
    if reply is None:
        raise ProgramGone
    return reply


class ProgramNamespace(dict):
    """The tests' globals: names they do not define come from the program."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(__name__="__main__")
        import builtins

        self._channel = channel
        self._builtins = builtins

    def __missing__(self, name: str):
        import importlib

        if hasattr(self._builtins, name):
            raise KeyError(name)  # the harness's own builtins
        reply = _ask(self._channel, {"op": "lookup", "name": name})
        kind = reply.get("kind")
        value: object
        if kind == "module":
            value = importlib.import_module(str(reply["module"]))
        elif kind == "callable":
            value = RemoteFunction(self._channel, name)
        elif kind == "value":
            value = decode(reply["value"])
        elif kind == "opaque":
            raise TypeError(
                f"the program's {name!r} cannot be used here: {reply['why']}"
            )
        else:
            raise KeyError(name)
        self[name] = value
        return value


def judge(channel: Channel, tests: str, program_pid: int) -> None:
    """Run the tests against the program; never returns. Exit status 0 only
    when every test statement ran."""
    import ctypes
    import signal
    import traceback

    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    try:
        if channel.receive() is None:
            raise ProgramGone
        code = compile(tests, "<tests>", "exec", dont_inherit=True)
        exec(code, ProgramNamespace(channel))
    except ProgramGone:
        _end_as_the_program_ended(program_pid, signal)
    except BaseException:  # noqa: BLE001 - a failed test, told by its traceback
        traceback.print_exc()
        _finish(program_pid, 1)
    _finish(program_pid, 0)


def _end_as_the_program_ended(pid: int, signal) -> None:
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        print(f"{KILLED_BY}{number}", file=sys.stderr)
        _flush()
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)  # (the verdict reads the same signal)
        os._exit(128 + number)
    code = os.WEXITSTATUS(status)
    if code == 0:
        print(ENDED_EARLY, file=sys.stderr)
        code = 1
    _flush()
    os._exit(code)


def _finish(pid: int, code: int) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass
    _flush()
    os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
