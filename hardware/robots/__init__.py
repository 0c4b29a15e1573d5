"""Robot configuration files that ship with labrun (loaded with ``importlib.resources``)."""
