"""kmb's composition root: the `kmb` command, which builds the core and mounts the adapters.

`bot` (the core) and `adapters` (the platforms) never import this package.
"""
