"""Browser tests of the drawing page."""
