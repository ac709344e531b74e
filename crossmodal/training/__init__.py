"""Training: the loop (:mod:`.trainer`), one critic and one generator update (:mod:`.updates`),
what a checkpoint restores (:mod:`.state`), the hyper-parameters (:mod:`.config`),
data parallelism (:mod:`.distributed`) and stop requests (:mod:`.stop_signals`)."""
