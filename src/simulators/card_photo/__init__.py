"""The simulated card-photo camera and the synthetic card photos it takes."""
