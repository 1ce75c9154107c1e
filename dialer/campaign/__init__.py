"""Running a bot campaign: accounts in, attempts out, each dial through the guards."""
