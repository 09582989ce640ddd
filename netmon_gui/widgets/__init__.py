"""Reusable console widgets: banner, latency plot, suggestions, panels."""
