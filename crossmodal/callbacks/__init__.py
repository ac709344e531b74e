"""What a run does beside its updates, called by the trainer's loop through one protocol
(:mod:`.base`): evaluations, ``metrics.csv`` and TensorBoard (:mod:`.metrics`), curves
(:mod:`.curves`), the fixed samples and their writing (:mod:`.fixed_samples`), checkpoints
(:mod:`.checkpoints`), ``progress.csv`` and the timing (:mod:`.progress_log`), and divergence
checks (:mod:`.divergence`); the run folder's files they write (:mod:`.run_folder`)."""
