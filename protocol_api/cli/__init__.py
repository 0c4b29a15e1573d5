"""The ``labrun`` command line."""
