"""Lab management: kit-lot stock, quality control, instruments and their calibration, method verification."""
