"""What a run does beside training, called by the trainer: fixed samples and their metrics
(:mod:`.fixed_samples`), curves (:mod:`.curves`) and divergence checks (:mod:`.divergence`)."""
