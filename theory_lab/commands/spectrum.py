"""`theory-lab spectrum` (placeholder until its issue lands)."""


def register(app) -> None:
    """Attach nothing yet."""
