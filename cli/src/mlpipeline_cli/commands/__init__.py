"""One module per command (or pair of commands): its handler, given a :class:`Context`."""
