"""The training engine: a unit's fit (``engine.fit_unit``) over two engines (``model.fit``; the
multi-worker step loop in ``steploop.py``), with one callback list, one checkpoint state, the task's
loss and scores, splits and the cluster's broadcasts.

``kaggle_kit.train`` owns a run's life and puts these together (docs/architecture.md, "Train").
"""
