"""Benchmarks run by hand, never by the test suite: most modules are `python -m bench.<name>` commands.

bench.page_request, bench.stages and bench.footprint serve those commands; bench.support is
what the tests share with them (the real server, drawings and encoders, HTTP requests and
the closed-loop load, the server's processes, Chromium).
"""
