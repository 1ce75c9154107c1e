"""The console's API, one router per area."""
