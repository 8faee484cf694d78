"""imgpipe benchmarks: ``python -m bench`` (``make bench``). Method: docs/benchmarks.md."""
