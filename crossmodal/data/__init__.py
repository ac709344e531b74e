"""What a job trains on: the training data a pairing and a loss term see, with its descriptor
values (:mod:`.training_data`), and the pairing rules that draw a target for each condition
(:mod:`.pairing`)."""
