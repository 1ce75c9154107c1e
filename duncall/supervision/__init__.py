"""Supervisors on live bot calls: listen, whisper, barge, take over (ARI snoop channels and bridges)."""
