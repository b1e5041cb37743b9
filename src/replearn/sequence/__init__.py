"""Sequence models (course chapter 6): recurrent networks, Seq2Seq, ELMo, state spaces, Mamba.

Modules: ``cells`` (+ ``cell_equations``) and ``rnn`` (+ ``rnn_reference``, ``rnn_fast``)
(RNN/LSTM/GRU), ``init`` and ``clipping``, ``seq2seq`` (+ ``seq2seq_attention``,
``seq2seq_search``), ``birnn``, ``elmo``, ``ssm`` and ``hippo`` (continuous SSMs,
discretization, HiPPO-LegS), ``s4`` and ``s4_model`` (S4/S4D), ``scan``, ``mamba`` and
``mamba_hf`` (selective state spaces). Import from the module that defines a name.
"""
