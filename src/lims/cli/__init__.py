"""The `lims` command line."""
