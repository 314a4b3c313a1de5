"""Executors: where a plan's stages run. The in-process one is engine.runner's
sequential loop; `local` runs one worker process per device of this machine.
Whatever the executor, the `xlt-engine run` process writes the store and the
event stream: workers only report to it."""
