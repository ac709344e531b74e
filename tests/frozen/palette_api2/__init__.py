"""crossmodal-palette: a worked example of a third-party crossmodal plugin.

It pairs two small modalities so that every part of a plugin fits on a screen:

* condition: a colour palette, 5 RGB colours, float ``(5, 3)`` in [0, 1];
* sample: a light pattern for two lamps, float ``(2, 8, 2)`` = (segments, steps, lamps), each
  value a lamp's brightness in [0, 1].

Modules: :mod:`~crossmodal_palette.constants` (shapes and units), :mod:`~crossmodal_palette.models`
(the four networks), :mod:`~crossmodal_palette.data` (datasets), :mod:`~crossmodal_palette.writer`
(CSV + text files), :mod:`~crossmodal_palette.evaluators` (metrics),
:mod:`~crossmodal_palette.recipes` (the training recipe), :mod:`~crossmodal_palette.commands`
(``crossmodal prepare palette-demo``) and :mod:`~crossmodal_palette.plugin` (the hook
implementations, the module the entry point names).
"""

__version__ = "0.1.0"
