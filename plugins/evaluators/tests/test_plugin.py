"""plugin.py registers every evaluator by import path: the written-out table matches the classes."""

from __future__ import annotations

import pickle

from crossmodal.contract.plugins import load_plugins
from crossmodal_evaluators import evaluators, plugin


def test_the_registration_table_matches_the_evaluator_classes():
    expected = [(e.name, e.__name__, e.description) for e in evaluators.EVALUATORS]
    assert list(plugin.EVALUATORS) == expected


def test_every_registered_path_resolves_to_its_class():
    plugins = load_plugins(strict=True, allow=[], extra=[("evaluators", plugin)])
    for evaluator_type in evaluators.EVALUATORS:
        info = plugins.registry.get("evaluator", evaluator_type.name)
        assert info.import_path == f"crossmodal_evaluators.evaluators:{evaluator_type.__name__}"
        assert info.factory is evaluator_type
        assert info.description == evaluator_type.description


def test_an_evaluator_pickles_now_that_its_class_is_a_module_attribute():
    evaluator = evaluators.EVALUATORS[0](threshold=0.25)
    copy = pickle.loads(pickle.dumps(evaluator))
    assert type(copy) is type(evaluator) and copy.options == evaluator.options
