"""The worker runtime: a supervisor per host (``run_worker``) and its worker processes, each one
Dramatiq worker with the engine's middleware, claimer, finisher and maintenance thread."""
