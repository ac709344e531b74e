"""crossmodal-evaluators: objective metrics for generated piano rolls, as crossmodal evaluators.

Modules: :mod:`~crossmodal_evaluators.metrics` (batched, vectorised torch functions),
:mod:`~crossmodal_evaluators.reference` (plain loop-based numpy versions, for tests and
benchmarks), :mod:`~crossmodal_evaluators.evaluators` (the :class:`crossmodal.Evaluator`
subclasses, one per metric), :mod:`~crossmodal_evaluators.plugin` (hook implementations).
Definitions and comparisons with pypianoroll and MuseGAN: ``docs/evaluators.md``. Importing the
package loads nothing else.
"""

__version__ = "0.1.0"
