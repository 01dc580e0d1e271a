"""Sample labels, barcode image decoding, GS1/GTIN rules, product and trademark registries."""
