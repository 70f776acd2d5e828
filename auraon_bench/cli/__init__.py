"""The command-line interface: a thin Click layer, one module per command.

A command module imports only click, the standard library and light helpers at its top; the
library behind the command is imported in the command's body. The root group imports a module
only when its command is resolved (see ``auraon_bench.cli.main.COMMANDS``), so ``--help`` loads no
pandas, pyarrow, scipy or matplotlib (tests/test_imports.py).
"""
