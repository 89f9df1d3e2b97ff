"""Developer tools, apart from the runtime: benchmarks, synthetic data and the viewer's contract export. Nothing
at runtime imports them, except the local stack's demo clip (`make up`)."""
