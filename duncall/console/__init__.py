"""The web console: supervisors, script designers and QA reviewers over one FastAPI app.

``create_app(settings)`` builds it; ``duncall serve`` runs it (127.0.0.1 unless told
otherwise).  Every endpoint checks the caller's role (``roles.py``); every script
change and supervisor action leaves an audit row.
"""
