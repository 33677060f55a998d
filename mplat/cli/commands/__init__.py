"""One module per ``mplat`` command, each with ``run(args) -> int``.

``mplat.cli.main`` imports only the module of the command being run, so a command's imports
are paid by that command alone.
"""
