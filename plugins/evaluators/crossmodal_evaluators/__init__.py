"""crossmodal-evaluators: objective metrics for generated piano rolls, as crossmodal evaluators.

Modules: :mod:`~crossmodal_evaluators.metrics` (batched, vectorised torch functions),
:mod:`~crossmodal_evaluators.evaluators` (the metric table and one generic
:class:`crossmodal.Evaluator` made concrete per metric), :mod:`~crossmodal_evaluators.plugin`
(hook implementations). The plain loop-based numpy versions of the metrics, the tests' oracle,
are ``tests/metric_reference.py``. Definitions and comparisons with pypianoroll and MuseGAN:
``docs/evaluators.md``. Importing the package loads nothing else.
"""

__version__ = "0.1.0"
