"""Tests of the legal procedure after a screening positive."""
