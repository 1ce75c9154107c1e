"""Number-level suppression lists: operators' adds and clears, list imports, and the dial-time check.

The SQL table (``dialer.store.models.suppression``) is the only copy: the guard's
facts lookup reads it for every dial, so nothing can fall out of step with it.
"""
