"""Table models and API schemas of the LIMS."""
