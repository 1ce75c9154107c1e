"""Personal data's end: per-debtor erasure and the retention purge (see docs/compliance.md)."""
