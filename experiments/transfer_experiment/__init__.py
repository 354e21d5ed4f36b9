"""The transfer experiment's pieces: its settings (`settings`), the run through its phases (`run`), one Tune
trial (`trial`), what it writes and reads back (`report`, `results_io`, `curves`, `plots`, `stats`), its progress
line and logging (`progress`, `tensorboard_logging`, `wandb_logging`) and its guards (`resources`, `storage_guard`,
`lock`). `experiments/transfer.py` is the script that runs it."""
