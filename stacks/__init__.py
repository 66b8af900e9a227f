"""The stacks of this app; each only wires components together."""
