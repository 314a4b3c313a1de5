"""`python -m xlt_tui`: the same as the `xlt` command."""

from xlt_tui.cli import main

if __name__ == "__main__":
    main()
