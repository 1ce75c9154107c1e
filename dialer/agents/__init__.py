"""Human agents on live calls: who is ready, on a call or in wrap-up, and how a call reaches one.

``pool`` keeps the agents' states (pure, clock passed in); ``connect`` puts an
answered debtor and a ready agent in one bridge, or plays the recorded
abandon message when nobody is free; ``record`` stores what happened.
"""
