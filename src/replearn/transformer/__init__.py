"""Transformers (course chapter 7): attention, position encodings, decoding, tokenizers, models.

Modules: ``attention``, ``positions``, ``decoding``, ``tokenizers``, ``gpt`` (+ ``gpt_layers``,
``gpt_hf``), ``bert`` (+ ``bert_layers``, ``bert_hf``), ``albert``, ``distil``, ``mlm``, ``t5``
(+ ``t5_layers``, ``t5_hf``, ``span_corruption``), ``transformer_xl``, ``vit``, ``swin``
(+ ``swin_hf``). Import from the module that defines a name.
"""
