"""The command-line interface: a thin Click layer, one module per command."""
