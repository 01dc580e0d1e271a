"""Wire codecs of the instrument families: pure functions and constants, no I/O.

Simulators build their frames with the same constants, so a change to a protocol lands in one place.
"""
