"""One dial to a debtor, the same for every campaign mode: the pipeline and what it stores."""
