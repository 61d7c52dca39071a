"""Running the lab: one validated config per run (``config``), MNIST (``data``,
``paths``), the training loop and its batch engine (``train``, ``batches``,
``train_records``, ``measure``), the result cache (``results``, ``atomic``,
``provenance``), sweeps (``sweep``), Dask (``distributed``) and the tidy results
table (``export``)."""
