"""Bolt: the app factory, listeners by Slack surface, App Home and the /hitl texts."""
