"""Collection strategy: which stage, script and time to call an account next.

``model`` holds the frozen strategy, ``policy`` decides (pure: no I/O, the clock is
passed in), ``config`` loads and validates YAML files at the edge.
"""
