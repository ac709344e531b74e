"""Training: the loop (:mod:`.trainer`), one critic and one generator update (:mod:`.updates`),
each process's share of a batch (:mod:`.batches`), what a checkpoint restores (:mod:`.state`),
the hyper-parameters (:mod:`.config`), data parallelism (:mod:`.distributed`), stop requests
(:mod:`.stop_signals`), and starting or resuming a run (:mod:`.launch`)."""
