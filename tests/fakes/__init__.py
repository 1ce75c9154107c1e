"""First-class fakes for fast tests of what is not ours to run."""
