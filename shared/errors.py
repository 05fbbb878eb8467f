"""Errors the domain may raise without importing any framework."""


class Rejected(Exception):
    """A well-formed request or event that the rules refuse; the message says why, for a person."""
