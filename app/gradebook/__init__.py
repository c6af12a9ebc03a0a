"""The gradebook: every learner's results per assignment, grade overrides, regrades, and the
audit log that records each change a person made to a grade."""
