"""One-click feedback requests, the feedback page, reminders and fatigue rules."""
