"""The data files duncall ships beside its code, in an installed wheel.

In the repository they stay in their top-level folders (``scripts/``, ``grammars/``,
``personas/``, ``strategies/``, ``data/nlu/``, ``asterisk-config/``); setup.py maps each
folder to a subpackage of this one when a wheel is built, and ``foundation.paths``
finds them in either place.
"""
