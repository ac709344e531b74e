"""Files and run folders: safe writes and bounded reads (:mod:`.files`), outputs never overwritten
(:mod:`.outputs`), checkpoints (:mod:`.checkpoint`), model files (:mod:`.model_file`), the run
folder (:mod:`.run_folder`, :mod:`.runlock`, :mod:`.runs`) and skipped inputs (:mod:`.skips`)."""
