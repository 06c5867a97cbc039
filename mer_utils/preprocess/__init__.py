"""Shared preprocessing steps and per-paper recipes."""
