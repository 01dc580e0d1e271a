"""Analysis of the results: hotspot signals for early warning, and the warnings drafted from them."""
