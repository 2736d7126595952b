"""MMDetection's DumpDetResults, its pickle never left half-written."""
import pickle

from mmdet.evaluation.metrics import DumpDetResults
from mmengine.logging import print_log

from mmyolo.registry import METRICS
from parkdet_challenge.atomic import atomic_write


@METRICS.register_module()
class AtomicDumpDetResults(DumpDetResults):
    """:class:`mmdet.evaluation.DumpDetResults` (``tools/test.py --out``) writing
    its pickle to a temporary file in the same folder, then renaming it: a run
    killed while dumping leaves the previous file, or none."""

    def compute_metrics(self, results: list) -> dict:
        with atomic_write(self.out_file_path) as f:
            pickle.dump(results, f)
        print_log(f'Results has been saved to {self.out_file_path}.',
                  logger='current')
        return {}
