"""VAE experiments: VAE and beta-VAE, IWAE, IAF posterior, the manifold hypothesis, VRNN."""
