# The 2022 challenge, "parking-related moving object detection" (docs/reference.md sections 1-3, 8):
# its data as tools/prepare_data.py writes it and its submission.
data_root = 'data/parking/'  # the challenge's DATA folder (train/, test/ inside)
# tools/prepare_data.py --out-dir: the annotation files, relative to data_root
ann_dir = 'annotations/'
# category_id 1..14
classes = ('sedan', 'SUV', 'van', 'bus', 'school bus', 'truck', 'taxi', 'adult',
           'child', 'motorcycle', 'kickboard', 'bicycle', 'stroller', 'cart')

# -----the submission (docs/reference.md section 8)-----
score_thr = 0.01
nms_iou_thr = 0.7
max_per_img = 50
# Several checkpoints fused by weighted boxes fusion (tools/predict.py --ensemble).
predict_ensemble = 'wbf'
# The competition format (parkdet_challenge.formats): docs/reference.md section 8's list of records
data_format = 'parking2022'
