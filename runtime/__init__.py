"""Process plumbing under the steps: the embedding worker process, the models on a Dask cluster, the C heap."""
