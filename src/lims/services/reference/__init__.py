"""Reference data: test items, limits, categories, instruments and kits, and the product and trademark registries."""
