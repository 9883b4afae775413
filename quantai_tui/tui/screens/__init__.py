"""Screens: main, order ticket, help, confirmations, live confirmation, backtest, replay."""
