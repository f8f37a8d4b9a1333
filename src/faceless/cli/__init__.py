"""The `faceless` command line: one module per command, sharing cli.common."""
