"""What a job trains on: the training data a pairing and a loss term see (:mod:`.training_data`),
the pairing rules that draw a target for each condition (:mod:`.pairing`), and each process's
share of a batch on its device (:mod:`.batches`)."""
