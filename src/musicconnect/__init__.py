"""Music Connect: an artist-to-fan music platform."""
