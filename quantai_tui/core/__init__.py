"""The pure domain: values, instruments, symbols, orders, commands, events, clocks, errors.

Imports nothing else of the project and does no I/O.
"""
