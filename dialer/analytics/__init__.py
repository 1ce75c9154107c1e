"""Collection KPIs: what a manager reads, defined once and computed in SQL from the stored facts.

``dialer.analytics.metrics`` says what each number means (numerator and denominator, pure);
``dialer.analytics.queries`` counts the facts in SQL on SQLite and PostgreSQL, cut by day,
week, campaign, creditor, stage, script, script version and the debtor's local hour and weekday.
"""
