"""Tests of lab management: quality control, Westgard rules, method verification."""
