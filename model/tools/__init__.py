"""Developer tools: benchmarks of the kernels, the whole year and delivery."""
