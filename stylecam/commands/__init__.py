"""One module per `stylecam` sub-command (see stylecam.cli.COMMANDS)."""
