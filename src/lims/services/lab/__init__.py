"""The lab's instruments, their calibration and the files of readings they export."""
