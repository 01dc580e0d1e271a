"""Food quick-test LIMS: samples, instrument results, review, publication and public traceability."""

__version__ = "0.1.0"
