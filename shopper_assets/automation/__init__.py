"""Automatic runs: sensors on external systems and declarative automation between assets."""
