"""`hitl clock`: placeholder replaced below."""
