"""Problem reports: a learner (or a grading error) says a question is wrong; staff reply."""
