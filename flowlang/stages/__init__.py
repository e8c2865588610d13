"""The stage catalogue: an explicit list of stage modules, each declaring SPEC."""
