"""Generating from a trained generator: a generation session (:mod:`.session`), and the local web
page of ``crossmodal serve`` (:mod:`.web_app`, :mod:`.web_jobs`, :mod:`.uploads`)."""


def __getattr__(name: str) -> object:  # crossmodal.generation was a module in 0.2.0
    from crossmodal import moved_attribute

    return moved_attribute(__name__, name)
