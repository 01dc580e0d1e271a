"""The card-photo family: colloidal-gold cards measured from a photo (driver, codec, measurement)."""
