# Any COCO detection data set, converted by tools/prepare_data.py (--train-json FILE
# --images DIR [--test-json FILE]): its classes and category ids come from the data
# (ANN_DIR/classes.json, which the converter writes), so a config names only where
# the data is. Predictions are written as a COCO results list with the data set's
# own category ids (parkdet_challenge.formats.coco).
data_root = 'data/coco/'
ann_dir = 'annotations/'  # tools/prepare_data.py --out-dir, relative to data_root
# None: the names tools/prepare_data.py wrote into ANN_DIR/classes.json
classes = None

# -----inference: YOLOv5 val.py's defaults for mAP-----
score_thr = 0.001
nms_iou_thr = 0.6
max_per_img = 300
predict_ensemble = 'wbf'
data_format = 'coco'
