"""What engines share: the learning-rate schedule and the chunked LM-head loss."""
