"""Pure judgement functions per instrument family, driven by reference data."""
