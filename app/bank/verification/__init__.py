"""Verification of one question: every claim it makes, checked against the real grading
functions, the learner's rendering, and torch run in the sandbox (app.bank.verify runs it)."""
