"""Tests of the lab's instruments, their calibration and file imports."""
