"""The version of the crossmodal distribution, in a module of its own so that any core module can
import it at the top without importing the package ``__init__``."""

__version__ = "0.1.0"
"""The version of the crossmodal distribution (also ``crossmodal --version``)."""
