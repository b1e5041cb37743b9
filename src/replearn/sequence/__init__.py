"""Sequence models (course chapter 6): recurrent networks, sequence-to-sequence, ELMo, state-space models, Mamba.

Modules: ``cells`` and ``rnn`` (RNN/LSTM/GRU), ``init`` and ``clipping``, ``seq2seq``, ``birnn``,
``elmo``, ``ssm`` and ``hippo`` (continuous SSMs, discretization, HiPPO-LegS), ``s4`` (S4/S4D),
``scan`` and ``mamba`` (selective state spaces). Import from the module that defines a name.
"""
