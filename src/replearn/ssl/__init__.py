"""Self-supervised learning (course chapter 12): pretext tasks, contrastive and
non-contrastive methods, I-JEPA, knowledge distillation, and their evaluation."""
