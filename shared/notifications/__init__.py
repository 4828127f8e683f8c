"""Notifications and surveys: product communication inside Cetegra, the in-house Beamer."""
