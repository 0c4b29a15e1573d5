"""Hardware modules: their physical model, thermocycler profiles, simulated devices."""
