"""The command line: parsing, one module per command, and the only wiring of concrete parts."""
