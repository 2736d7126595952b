# The 2021 challenge, driver-inattention detection (docs/reference.md section 9): its data as
# tools/prepare_data.py writes it and its submission.
data_root = 'data/inattention/'  # the 2021 DATA folder (train/, test/ inside)
ann_dir = 'annotations/'  # tools/prepare_data.py --out-dir, relative to data_root
classes = ('eye_opened', 'eye_closed', 'mouth_opened', 'mouth_closed', 'face',
           'phone', 'cigar')

# -----the submission (docs/reference.md section 9)-----
score_thr = 0.006
nms_iou_thr = 0.7
max_per_img = 300  # v5.0's non_max_suppression default
# Several checkpoints (baseline + fine-tuned, or fold models) fused as YOLOv5's
# Ensemble: every model's raw (TTA) predictions concatenated, then one NMS.
predict_ensemble = 'nms'
# The competition format (parkdet_challenge.formats): {"annotations":
# [{"file_name", "objects": [...]}]}
data_format = 'inattention2021'
