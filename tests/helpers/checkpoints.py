"""Checkpoints of a config's model with random weights, for inference tests."""
import torch


def _random_checkpoint(config, path, seed=0):
    """A checkpoint of the config's model with random weights."""
    from mmengine.registry import init_default_scope

    from mmyolo.registry import MODELS
    from parkdet_mm.config import load_config
    init_default_scope('mmyolo')
    torch.manual_seed(seed)
    model = MODELS.build(load_config(str(config)).model)
    torch.save({'meta': {'epoch': 1}, 'state_dict': model.state_dict()}, path)
    return path
