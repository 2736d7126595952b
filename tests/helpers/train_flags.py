"""tools/train.py's flag handling, loaded as a module, to build a config from a command line."""
import importlib.util
import sys

from conftest import REPO


def train_tool():
    """tools/train.py as a module, to parse its flags as a user's command would."""
    spec = importlib.util.spec_from_file_location('train_tool', REPO / 'tools/train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config_from_train_flags(monkeypatch, argv):
    tool = train_tool()
    monkeypatch.setattr(sys, 'argv', ['train.py', *argv])
    args = tool.parse_args()
    return tool.config_from_args(args, tool.flag_primaries(args),
                                 tool.hyp_primaries(args))
