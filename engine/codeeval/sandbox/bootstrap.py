"""The program's side: the first Python code of the sandboxed interpreter.

Either launcher executes this file's *source* as `python -I -B -c <source>`
(the sandboxed interpreter may not see this package). File descriptor 3
carries its settings as JSON: the program's path, the working directory, the
guard's source and whether to install it, the completion marker and, under
bubblewrap, the RLIMIT_NPROC to set. It reads them, closes fd 3, installs the
guard, and runs the program as module __main__; after the program's last
statement it prints the marker.

The marker carries a per-run nonce that the program is not given: it is read
from the pipe into this function's locals only and never reaches the
program's globals, argv, environment or files. A program that searches its
caller's frame for it can forge a pass: the marker stops programs that end
early (`os._exit(0)`, `sys.exit(0)` before the tests), not a program written
to fool the evaluator.
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
    if cfg["guard"]:
        guard: dict = {"__name__": "_xlt_guard"}  # exec's namespace
        exec(cfg["guard_source"], guard)
        guard["install"](cfg["workdir"])
        del guard
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    done = ("\n" + cfg["marker"] + "\n").encode()
    del cfg
    exec(code, module.__dict__)
    try:
        sys.stdout.flush()
    except Exception:
        pass
    os.write(1, done)


if __name__ == "__main__":
    main()
