"""The connector's own signing receipt: built from what a job kept, sealed with Ed25519, chained, rendered."""
