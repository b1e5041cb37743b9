"""Transformers (course chapter 7): attention, position encodings, decoding, tokenizers, and models.

Modules: ``attention``, ``positions``, ``decoding``, ``tokenizers``, ``gpt``, ``bert`` (and its
variants), ``t5``, ``transformer_xl``, ``vit``, ``swin``. Import from the module that defines a name.
"""
