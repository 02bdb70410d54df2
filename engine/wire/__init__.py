"""What crosses the wire: Avro framing and codec, journal record builders, JSON, domain events."""
