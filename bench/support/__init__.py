"""What the tests and the benchmarks share: the real server, the page's pen, Chromium."""
