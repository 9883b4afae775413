"""The panes of the main screen, one small module each."""
