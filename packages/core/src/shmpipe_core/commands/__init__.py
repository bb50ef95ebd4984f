"""The core's console scripts (prepare-data, cleanup, runs, vineyard-local): each a thin layer of
flags and output over the library modules beside this package."""
