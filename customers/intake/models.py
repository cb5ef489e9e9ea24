"""Models of the intake: import jobs, duplicate candidates and merges (loaded by customers.models)."""
