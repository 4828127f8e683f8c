"""Lifecycle: retention (the 24-month expiry), erasure and export, over every family that holds
pseudonymous data."""
