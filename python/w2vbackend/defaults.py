"""Default settings, in one torch-free place (the CLI, the up-to-date check and the engine all
read them here, so a changed default also changes the outputs' fingerprint)."""

DEFAULT_MODEL = "facebook/wav2vec2-large-xlsr-53"
# Audio whose frames one model call keeps, and the real audio on each side of it that goes
# through the transformer layers (attention context); the positional convolution's reach (about
# 1.3 s per side) is always added on top. Chosen from the context trade-off benchmark (README,
# "Performance"): with the positional reach exact, 0 s already reaches the fidelity floor of a
# whole-recording pass there; 0.5 s is kept as a margin for trained models' local attention.
DEFAULT_CHUNK_SECONDS = 20.0
DEFAULT_CONTEXT_SECONDS = 0.5
# Precisions the model can run in (outputs are float32 whatever the choice).
DTYPE_NAMES = ("float32", "float16", "bfloat16")
# First-layer GroupNorm statistics of group-norm encoders: the whole recording's, or each window's.
GROUP_NORM_MODES = ("recording", "window")
# Causal mode (the Huth lab's recipe): seconds of past context per window, seconds per step.
DEFAULT_CAUSAL_CONTEXT_SECONDS = 8.0
DEFAULT_CAUSAL_STEP_SECONDS = 0.1
