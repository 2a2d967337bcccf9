"""Running it: the composition root (daemon), worker pool, rate limits, API budget, leader election,
wake-ups between replicas, the provider registry, logging."""
