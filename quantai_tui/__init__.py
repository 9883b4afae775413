"""QuantAI TUI: a keyboard-driven terminal trading application."""

__version__ = "0.1.0"
