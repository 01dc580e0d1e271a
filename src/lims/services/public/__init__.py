"""What the public and stations see: trace answers, barcode scanning, EPCIS exchange and hotspots."""
