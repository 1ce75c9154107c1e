"""Account import: CSV and JSON Lines files into the durable store."""
