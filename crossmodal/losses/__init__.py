"""Loss terms: the WGAN-GP losses (:mod:`.wasserstein`), the information term's generic part
(:mod:`.information`), and how the registered ``loss-term`` entries a recipe names are recorded and
built (:mod:`.terms`). A new loss term is a plugin's registered ``loss-term``, named by a recipe."""


def __getattr__(name: str) -> object:  # crossmodal.losses was a module in 0.2.0
    from crossmodal import moved_attribute

    return moved_attribute(__name__, name)
