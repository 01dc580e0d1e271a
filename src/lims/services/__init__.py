"""Business rules of the LIMS: every rule lives once, here; routes and commands call these."""
