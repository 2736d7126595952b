"""A config whose text is formatted once for each content."""
from mmengine.config import Config


class FormattedOnceConfig(Config):
    """MMEngine's :class:`~mmengine.config.Config`, whose ``pretty_text`` (run
    through yapf: about a second for the recipe's configs) is formatted once for
    each content and then reused: a runner asks for it at its start, for the config
    it dumps, for its visualizer and for every checkpoint's meta. Any change to the
    config's values gives a new text, formatted anew; the text is always what
    :class:`~mmengine.config.Config` formats."""

    @property
    def pretty_text(self) -> str:
        content = repr(self._cfg_dict)
        formatted = self.__dict__.get('_formatted_text')
        if formatted is not None and formatted[0] == content:
            return formatted[1]
        text = super().pretty_text
        # Config.__setattr__ would put it among the config's values
        object.__setattr__(self, '_formatted_text', (content, text))
        return text

    @classmethod
    def of(cls, cfg):
        """``cfg`` itself, formatting its text once from now on if it is a
        :class:`~mmengine.config.Config` (a plain dict is returned as it is)."""
        if isinstance(cfg, Config):
            object.__setattr__(cfg, '__class__', cls)  # not Config's: it sets values
        return cfg
