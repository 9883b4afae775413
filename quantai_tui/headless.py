"""Headless mode: the engine without a screen (`quantai headless` / `quantai live`).

Built in issue 6 item 9; this module exists so the layer contracts can name it.
"""
