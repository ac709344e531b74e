"""The version of the crossmodal distribution, in a module of its own so that any core module can
import it at the top without importing the package ``__init__``."""

__version__ = "0.2.1"
"""The version of the crossmodal distribution (also ``crossmodal --version``), semver: while it is
``0.x`` its minor number is the plugin API version (:data:`crossmodal.contract.plugins.API_VERSION`), so a
plugin pins ``crossmodal>=0.2,<0.3`` for API 2, and any change that can break a plugin bumps it."""
