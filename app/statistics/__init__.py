"""Item and test statistics for quizzes, computed as pure functions."""
