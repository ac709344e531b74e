"""Evaluation: evaluators over whole sample sets and a checkpoint's generated set (:mod:`.sets`),
and how much the condition matters (:mod:`.conditioning`). A new metric is an evaluator, registered
by a plugin."""


def __getattr__(name: str) -> object:  # crossmodal.evaluation was a module in 0.2.0
    from crossmodal import moved_attribute

    return moved_attribute(__name__, name)
