"""`python -m engine`: the same command line as `xlt-engine`."""

from engine.cli import main

if __name__ == "__main__":
    main()
