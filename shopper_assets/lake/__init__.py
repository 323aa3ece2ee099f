"""The hourly lake: raw landed lines, cleaned events and quarantined lines."""
