"""`hitl demo` and its simulated reviewers."""
