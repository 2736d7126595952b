# Stage 2 (SPEC section 5): 15 epochs from the baseline's last checkpoint with
# hyp.finetune, image weights off.
#   python tools/train.py configs/finetune.py
_base_ = [
    './_base_/yolov5_p6.py', './_base_/datasets/parking2022.py',
    './_base_/sizes/x6_1280.py', './_base_/hyps/finetune.py'
]

max_epochs = 15
load_from = '${final_checkpoint_of("{{ fileDirname }}/baseline.py")}'
