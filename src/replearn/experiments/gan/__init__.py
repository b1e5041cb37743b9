"""GAN experiments: ``gan-mixture`` (mode collapse on 2-D mixtures), ``gan-theory``,
``gan-stability`` (critic loss vs quality, GP vs clipping, SN across rates), ``gan-metrics``,
image GANs (``gan-images``, ``gan-cycle``, ``gan-spade``) and ``gan-vs-likelihood``."""
