"""Scheduling: the project plan, working-time steps, the lease and the application's scheduler."""
