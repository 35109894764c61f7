"""``landscape bench``: the benchmark suite, shipped with the package (runner: :mod:`landscape.bench.suite`)."""

from landscape.bench.suite import BenchError, add_arguments, command, main

__all__ = ["BenchError", "add_arguments", "command", "main"]
