"""The signing engine: moves each job one committed step at a time (job_steps), and plans what a step sends
(planner, signers, reminders, delivery checks)."""
