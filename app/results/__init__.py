"""The results API for integrations: learners by external id, attempts by cursor."""
