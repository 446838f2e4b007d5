"""The pieces of ``kit train``: splits, scoring, checkpoints, callbacks and the fit loop.

``kaggle_kit.train.train`` puts them together; they are separate so the loop can
gain a multi-worker step without touching splits, scoring or run folders.
"""
