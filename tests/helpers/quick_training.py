"""A config shrunk to a few quick iterations, for tests that train in-process."""


def quick_training(cfg, monkeypatch):
    """``cfg`` without validation and pictures, and mmengine's config dumps not
    run through yapf (their formatting takes most of a tiny run)."""
    import mmengine.config.config as mmengine_config
    monkeypatch.setattr(mmengine_config, 'FormatCode',
                        lambda text, **kwargs: (text, False))
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    for hook in ('train_batch', 'training_curves', 'diagnostics'):
        cfg.default_hooks.pop(hook)
    return cfg
