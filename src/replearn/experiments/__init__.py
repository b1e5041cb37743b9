"""replearn's experiments, one folder per topic.

Naming rule: an experiment lives in ``experiments/<topic>/<name>.py`` where ``<name>`` is the
experiment's registered name with ``-`` replaced by ``_`` (``cnn-scaling`` ->
``cnn/cnn_scaling.py``, ``long-range-models`` -> ``sequence/long_range_models.py``); the only
exceptions are modules that register a family of experiments from one factory by design
(``ssl/pretrain.py``, ``ssl/distill.py``, which say so in their docstrings) and ``tour.py``.
Its slow claims test is ``tests/claims/test_<topic>_<file stem>_claims.py``, the same with the
stem's topic prefix dropped (``test_cnn_cost_claims.py``), or the topic's shared
``tests/claims/test_<topic>_claims.py`` (:func:`replearn.commands.checking_test` finds it).
"""
