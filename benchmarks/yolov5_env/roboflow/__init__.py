"""Stand-in: YOLOv5 7.0.14 imports Roboflow at module level; offline, never used."""


class Roboflow:

    def __init__(self, *args, **kwargs) -> None:
        raise RuntimeError('roboflow stand-in: no downloads here')
