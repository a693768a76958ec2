"""Data-quality suites (Great Expectations) and the validation step between extract and
publish. The furniture catalogue they check against lives in :mod:`transforms.furniture`."""
