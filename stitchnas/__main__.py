import sys

from .cli import main

if __name__ == "__main__":  # the guard processes started by spawn or a fork server expect
    sys.exit(main())
