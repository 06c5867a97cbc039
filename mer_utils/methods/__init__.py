"""Paper-specific pipelines (multi-stage training, feature aggregation, transfer chains), one module per
paper, built on the shared data, preprocessing, training and evaluation code."""
