"""Evaluation: benchmarks, exact metrics, diagnostics, the staged runner, the HTML report, run comparison.

Import the submodules directly (``rewardlab.evaluate.metrics`` is pure numpy and imports nothing heavy);
this package file stays empty so importing one piece never pulls in the others.
"""
