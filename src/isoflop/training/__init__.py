"""What engines and recipes share: the learning-rate schedule, the optimizer's settings."""
