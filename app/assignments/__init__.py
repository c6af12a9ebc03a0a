"""Setting assignments and opening them: the staff's list and form, a member's start page,
and their API. What an attempt is and how it runs (the rules, the draw, the deadline) is the
attempts package's (app.attempts.rules, app.attempts.assignments)."""
