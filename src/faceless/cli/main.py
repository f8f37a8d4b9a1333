"""Entry point of the `faceless` command: parses, dispatches, maps errors to exit codes."""

from __future__ import annotations

import argparse
import sys

from faceless import __version__
from faceless.cli import demo, detect, eval, render, run
from faceless.cli.common import EXIT_USAGE, setup_logging
from faceless.core.errors import ConfigError, FacelessError


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
    return p


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    setup_logging(getattr(a, "quiet", False))
    try:
        return int(a.func(a))
    except (ConfigError, ValueError) as err:
        print(f"faceless: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except FacelessError as err:  # model missing or similar: nothing can run
        print(f"faceless: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("faceless: interrupted; unfinished outputs were removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
