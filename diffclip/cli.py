"""The ``diffclip`` command line: one subcommand per module.

Built-in subcommands live in :mod:`diffclip.commands`; the other packages (``training``, ``explain``)
register theirs through the ``diffclip.commands`` entry-point group in pyproject.toml, so that
``diffclip`` never imports them (imports flow ``training -> diffclip``, never back). Command modules
import only argparse at module level (their ``HELP`` is all the command list needs); a command's arguments
are built only when it is the one run, since their defaults come from modules that load torch, and the
heavy libraries load inside ``run``. So ``diffclip --help`` loads no torch (tests/test_architecture.py).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .process_files import Terminated, exit_cleanly_on_signals

#: Subcommand name -> module that defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
BUILTIN_COMMANDS: dict[str, str] = {
    "evaluate": "diffclip.commands.evaluate",
    "import-paper": "diffclip.commands.import_paper",
    "info": "diffclip.commands.info",
    "predict": "diffclip.commands.predict",
}


def available_commands() -> dict[str, str]:
    """Built-in subcommands plus those registered by installed packages, sorted by name."""
    from importlib.metadata import entry_points

    commands = dict(BUILTIN_COMMANDS)
    for ep in entry_points(group="diffclip.commands"):
        commands.setdefault(ep.name, ep.value)
    return dict(sorted(commands.items()))


def chosen_command(argv: Sequence[str], names: Sequence[str]) -> str | None:
    """The subcommand that ``argv`` runs: its first word that is not an option, if it names one."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in names else None


def build_parser(only: str | None = None, everything: bool = True) -> argparse.ArgumentParser:
    """The parser with every subcommand listed; each subcommand's own arguments are built when
    ``everything``, else only those of ``only``."""
    parser = argparse.ArgumentParser(
        prog="diffclip",
        description="Differential-attention BiomedCLIP for video capsule endoscopy: "
        "inference, events, scoring, explanations and training.",
    )
    parser.add_argument("--version", action="version", version=f"diffclip {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in available_commands().items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        if everything or name == only:
            module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``diffclip`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(chosen_command(argv, list(available_commands())), everything=False)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    exit_cleanly_on_signals()  # SIGTERM unwinds like Ctrl-C: no temporary file or staging folder is left
    try:
        return int(args._run(args) or 0)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        # Expected user errors: one plain line, no traceback.
        print(f"diffclip {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:  # its own message is empty
        print(f"diffclip {args.command}: error: out of memory; try a smaller --batch-size or fewer inputs at a "
              "time", file=sys.stderr)
        return 2
    except (Terminated, KeyboardInterrupt) as exc:
        print(f"diffclip {args.command}: stopped; outputs not finished were removed, earlier ones left as they "
              "were", file=sys.stderr)
        return exc.code if isinstance(exc, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
