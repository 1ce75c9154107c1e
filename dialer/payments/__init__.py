"""Payments in: parse them (records), store and match them (ledger), read files (importer),
and judge promises to pay against them (evaluate)."""
