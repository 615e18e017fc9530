"""Benchmarks run by hand, never by the test suite: most modules are `python -m bench.<name>` commands.

bench.loadgen and bench.page_request serve those commands; bench.support is
what the tests share with them (the real server, the page's pen, Chromium).
"""
