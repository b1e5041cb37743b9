"""GAN experiments: ``gan-mixture`` (mode collapse on 2-D mixtures), ``gan-theory``, image GANs."""
