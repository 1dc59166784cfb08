"""Subscribers: the base-information store sync and other consumers."""
