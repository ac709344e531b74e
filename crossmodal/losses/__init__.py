"""Loss terms: the WGAN-GP losses (:mod:`.wasserstein`) and the information term
(:mod:`.information`). A new loss term is a module here, or a plugin's, named by a recipe."""


def __getattr__(name: str) -> object:  # crossmodal.losses was a module in 0.2.0
    from crossmodal import moved_attribute

    return moved_attribute(__name__, name)
