"""The learner's way in: the home page and each topic's hub, with their progress."""
