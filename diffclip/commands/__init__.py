"""Subcommands of the ``diffclip`` command line (see :mod:`diffclip.cli`)."""
