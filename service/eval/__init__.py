"""`facellava eval`: labelled data sets read from their published layouts, sent through a running service, and
scored with the paper's metrics (with calibration, paired comparisons and a markdown report)."""
