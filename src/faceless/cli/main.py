"""Entry point of the `faceless` command: parses, dispatches, maps errors to exit codes."""

from __future__ import annotations

import argparse
import sys
import traceback

from faceless import __version__
from faceless.cli import audit, check, demo, detect, eval, render, review, run, status
from faceless.cli.common import EXIT_BUG, EXIT_USAGE, setup_logging
from faceless.core.errors import FacelessError
from faceless.core.malloc import one_heap


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="faceless",
        description="Hide every face in photos and videos. Never identifies anyone.")
    p.add_argument("--version", action="version", version=f"faceless {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run.register(sub)
    detect.register(sub)
    render.register(sub)
    demo.register(sub)
    eval.register(sub)
    audit.register(sub)
    check.register(sub)
    review.register(sub)
    status.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    one_heap()  # before any thread starts: see faceless.core.malloc
    a = parser().parse_args(argv)
    setup_logging(getattr(a, "quiet", False))
    try:
        return int(a.func(a))
    except FacelessError as err:
        # A bad option or setting, or nothing can run (a model missing or altered): no
        # input was processed. Errors of one input are reported by the command and the run
        # goes on, so they do not reach this point.
        print(f"faceless: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("faceless: interrupted; unfinished outputs were removed", file=sys.stderr)
        return 130
    except Exception as err:  # anything else is a bug in faceless, never the user's doing
        traceback.print_exc(file=sys.stderr)
        print(f"faceless: internal error (a bug in faceless {__version__}, not in your input "
              f"or options): {type(err).__name__}: {err}\nPlease report it with the command "
              "you ran and the lines above.", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
