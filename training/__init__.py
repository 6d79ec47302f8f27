"""Training: datasets (Galar reader, synthetic generator), losses, sampler, train loop, metrics."""
