"""Case assignment (分案): which collector works which account, and each collector's worklist.

``policy`` decides (pure: facts in, moves out); ``config`` loads the rules file;
``store`` reads the facts and writes the moves; ``worklist`` orders a collector's queue.
"""
