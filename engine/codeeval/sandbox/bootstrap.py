"""The program's side: the first Python code of the sandboxed interpreter.

Either launcher executes this file's *source* as `python -I -B -c <source>`
(the sandboxed interpreter may not see this package). File descriptor 3
carries its settings as JSON: the program's path, the working directory, the
guard's source and whether to install it, the completion marker and, under
bubblewrap, the RLIMIT_NPROC to set. It reads them, closes fd 3, installs the
guard, and runs the program as module __main__; after the program's last
statement it prints the marker.

With tests of their own (`run_program(..., tests=...)`, what pass@k uses)
there is no marker: before the program's first statement the bootstrap forks,
runs the program in the child and the tests in this process, the harness,
whose exit status is the verdict (harness.py says why and how).

Without them, the marker carries a per-run nonce that the program is not
given: it is read from the pipe into this function's locals only and never
reaches the program's globals, argv, environment or files. A program that
searches its caller's frame for it can forge that marker: it stops programs
that end early (`os._exit(0)`, `sys.exit(0)` before their last statement), not
a program written to fool the evaluator.
"""


def main() -> None:
    import builtins
    import json
    import os
    import sys
    import types

    with os.fdopen(3, "rb") as fh:
        cfg = json.loads(fh.read())
    if cfg.get("nproc"):
        # Inside the sandbox's own user namespace the count is the sandbox's
        # alone; no task of the program exists yet, so this is as good as
        # setting it before exec. (Before the guard: it blocks `resource`.)
        import resource

        nproc = int(cfg["nproc"])
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    path = cfg["program"]
    with open(path, "rb") as fh:
        code = compile(fh.read(), path, "exec", dont_inherit=True)
    if cfg.get("tests") is not None:
        # Judged from outside (harness.py): fork before any of the program's
        # code runs; this process becomes the harness and never returns.
        harness: dict = {"__name__": "_xlt_harness"}
        exec(cfg["harness_source"], harness)
        to_program_r, to_program_w = os.pipe()
        to_harness_r, to_harness_w = os.pipe()
        pid = os.fork()
        if pid != 0:
            os.close(to_program_r)
            os.close(to_harness_w)
            channel = harness["Channel"](to_harness_r, to_program_w)
            harness["judge"](channel, cfg["tests"], pid)
        os.close(to_program_w)
        os.close(to_harness_r)
        channel = harness["Channel"](to_program_r, to_harness_w)
        serve = harness["serve"]
        del harness
    else:
        serve = channel = None
    if cfg["guard"]:
        guard: dict = {"__name__": "_xlt_guard"}  # exec's namespace
        exec(cfg["guard_source"], guard)
        guard["install"](cfg["workdir"])
        del guard
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    done = ("\n" + cfg["marker"] + "\n").encode() if cfg.get("marker") else b""
    del cfg
    if serve is None:
        exec(code, module.__dict__)
        try:
            sys.stdout.flush()
        except Exception:
            pass
        os.write(1, done)
        return
    try:
        exec(code, module.__dict__)
    except SystemExit:
        raise  # (its status ends the program; the harness tells)
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    serve(channel, module.__dict__)
    try:
        sys.stdout.flush()
    except Exception:
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
