"""Getting events into the landing zone and reading landed files back as lines."""
