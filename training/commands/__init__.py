"""`diffclip` subcommands contributed by the training package."""
