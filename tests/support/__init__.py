"""What the tests use that is not a test: builders of test data (fuzzed objects,
cross-compiled fixtures, expected outputs from upstream), also runnable as
``python -m tests.support.<name>`` to remake committed data, and a client that
drives the system chromium for the HTML report's tests."""
