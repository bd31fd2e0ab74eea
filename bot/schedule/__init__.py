"""`hitl clock` and the jobs it runs."""
