"""The challenge's own formats, with no torch or OpenMMLab import.

Its classes, the conversion of its labels to COCO, its submission file and size cap, and
a synthetic data set in its layout. Kept free of heavy imports so that the command-line
tools built on it (data preparation, re-capping a submission) start in milliseconds.
"""
