"""`theory-lab widths` (placeholder until its issue lands)."""


def register(app) -> None:
    """Attach nothing yet."""
