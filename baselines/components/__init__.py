"""Building blocks that only baselines use: the attention LSTM of DeepNQG and the span heads
of OneStop and Info-QAP. The shared base and IGJA-QAP live in ``qapgen.models``."""
