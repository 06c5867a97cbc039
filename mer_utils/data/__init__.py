"""Datasets: synthetic data, loaders, label protocols and subject-wise splits."""
