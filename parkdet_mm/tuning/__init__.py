"""The tuning jobs: hyper-parameter search on Optuna (:mod:`.search`, imported by
``tools/evolve.py`` only, as Optuna is needed there alone) and k-fold training with
out-of-fold scores (:mod:`.kfold`)."""
