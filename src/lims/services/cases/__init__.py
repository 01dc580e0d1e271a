"""What follows a positive: cases, notifications to stations, and consumer warnings."""
