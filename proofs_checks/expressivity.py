"""Checks of this section (filled by its issue)."""

CHECKS: list = []
