"""RLHF experiments: GRPO on arithmetic, SFT -> reward model -> PPO on sentiment."""
