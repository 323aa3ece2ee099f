"""Where data lives: chosen per deployment, behind interfaces the assets share."""
