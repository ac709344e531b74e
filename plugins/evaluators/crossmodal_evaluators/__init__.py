"""crossmodal-evaluators: objective metrics for generated piano rolls, as crossmodal evaluators.

Modules: :mod:`~crossmodal_evaluators.metrics` (batched, vectorised torch functions),
:mod:`~crossmodal_evaluators.reference` (plain loop-based numpy versions, for tests and
benchmarks), :mod:`~crossmodal_evaluators.evaluators` (the :class:`crossmodal.Evaluator`
subclasses and :func:`evaluate_all`), :mod:`~crossmodal_evaluators.plugin` (hook
implementations). Importing the package loads nothing else.
"""

__version__ = "0.1.0"
