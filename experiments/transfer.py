"""The main job, the transfer experiment: train teams small, evaluate them large (zero-shot, after fine-tuning, and
against training from scratch). `python experiments/transfer.py --help` lists its options; the experiment itself
lives in `experiments/transfer_experiment/` (`run.py` holds the phases and the full description).

    python experiments/transfer.py                      # qmix, concat vs graph, spread, train 3, eval 3 and 6
    ray submit cluster/gpu.yaml experiments/transfer.py -- --storage s3://my-bucket/marl --wandb
"""

import sys

from experiments.transfer_experiment.run import main

if __name__ == "__main__":
    sys.exit(main())
