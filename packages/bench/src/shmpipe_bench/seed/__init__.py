"""The seed's method, re-implemented as three steps for the benchmark: pandas DataFrames handed over
as pickles on the data dir (NAS) or through the stock vineyard client, `LinearRegression().fit` on
the DataFrame, the model saved with joblib. Each step runs as its own process (`python -m
shmpipe_bench.seed.<step>`), with its own imports, as the seed's pods do. Benchmark only: nothing
here is part of the pipeline, and pickle never crosses a step of ours.
"""
