"""Turning a recipe into live, shape-checked objects (:mod:`.build`), among them the conditional
generator (:mod:`.generator`)."""
