"""Benchmarks run by hand, never by the test suite: each module is a `python -m bench.<name>` command."""
