"""Reinforcement-learning experiments: dynamic programming, tabular TD, DQN, policy
gradients, PPO, reward hacking."""
