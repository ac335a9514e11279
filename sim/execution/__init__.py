"""Running ensembles: batches, executors, storage and replays. Knows nothing of the domain."""
