"""Jukepix: impressionist paintings to two-track classical music, as a crossmodal plugin."""

__version__ = "0.1.0"
