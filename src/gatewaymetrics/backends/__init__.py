"""Backends: sinks that turn samples into metrics. Each is the only importer of its
third-party library; importing this package imports none of them."""
