"""One module per `quantai` subcommand. Top-level imports: the standard library only."""
