"""``python -m closebatch``, and the entry point of the ``closebatch`` command: it imports
nothing before it can catch an interruption (Ctrl-C is clean at any moment, exit 130)."""
import os
import sys


def main() -> None:
    try:
        from .cli import run
    except KeyboardInterrupt:
        sys.stderr.write("closebatch: interrupted.\n")
        sys.stderr.flush()
        os._exit(130)
    run()


if __name__ == "__main__":
    main()
