"""Files: safe writes and bounded reads (:mod:`.files`), outputs never overwritten
(:mod:`.outputs`), checkpoints (:mod:`.checkpoint`), model files (:mod:`.model_file`), run
folders and their lock (:mod:`.runs`, :mod:`.runlock`) and skipped inputs (:mod:`.skips`)."""
