"""The pipeline's test step (the seed's `test`, image `test-data`): `evaluate` scores the trained
model on the test split and writes metrics.json. Named evaluate so that it does not read as a
test suite; it lives in packages/test, as the seed names the step."""
