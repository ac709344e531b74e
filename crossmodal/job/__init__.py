"""Turning a recipe into live, shape-checked objects (:mod:`.build`), among them the conditional
generator (:mod:`.generator`), and a checkpoint or model file back into them (:mod:`.restore`)."""
