"""Runtime glue for Kara Support Chat: training with a model cache, process
supervision and the command line (``python -m bot`` / ``./kara``)."""
