"""Bundled model weights (this directory installs as the package data `trmsolve.weights`)."""
