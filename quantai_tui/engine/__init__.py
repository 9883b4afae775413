"""The trading engine: bus, OMS, risk, portfolio, strategy base, fill models, ports, kernel.

Knows no UI and no concrete venue or store: those plug in through `engine/ports.py`.
"""
