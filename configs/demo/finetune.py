# The finetune recipe, tiny, from the demo baseline's last checkpoint. `make demo`
# runs it.
_base_ = [
    '../_base_/yolov5_p6.py', '../_base_/datasets/parking2022.py',
    '../_base_/sizes/demo_256.py', '../_base_/hyps/finetune.py'
]

data_root = 'data/demo/'
max_epochs = 20
load_from = '${final_checkpoint_of("{{ fileDirname }}/baseline.py")}'
