"""The Textual face of the engine. The only package that imports textual.

Layout: app.py (the App), bridge.py (engine events -> Textual messages, keys -> engine
commands), messages.py, screens/, widgets/. Nothing here places orders or talks to an exchange:
every action is a core command sent through the bridge to the engine.
"""
