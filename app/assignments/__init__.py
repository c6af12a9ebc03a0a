"""Assignments: work an instructor sets from a course's bank and the shipped bank, with the
rules of its attempts (draws, attempts allowed, time limit, dates, feedback, late policy)."""
