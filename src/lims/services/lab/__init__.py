"""Lab management: kit-lot stock, quality control of kit lots and batches, method verification."""
