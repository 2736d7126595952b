# The 2021 finetune recipe, tiny, from the demo baseline's last checkpoint, with the
# reference's frozen layers (configs/challenge2021/finetune.py). `make demo2021`
# runs it.
_base_ = [
    '../../_base_/yolov5_p6_v50.py', '../../_base_/datasets/inattention2021.py',
    '../../_base_/sizes/demo_256.py', '../../_base_/hyps/finetune_simple.py'
]

data_root = 'data/demo2021/'
max_epochs = 6
warmup_min_iters = 20
checkpoint_interval = 3
load_from = '${final_checkpoint_of("{{ fileDirname }}/baseline.py")}'
predict_with_load_from = True  # tools/predict.py's default: the NMS ensemble
frozen_layers = [1, 2, 3, 4, 5, 67, 8, 9, 10, 11]
