"""Samples and where they come from: registration and corrections, label ids and labels, signed links, plans."""
