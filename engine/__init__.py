"""The labrun engine: commands, the run state machine, the engine loop, the run record."""
