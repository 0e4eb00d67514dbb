"""Default settings, in one torch-free place (the CLI, the up-to-date check and the engine all
read them here, so a changed default also changes the outputs' fingerprint)."""

DEFAULT_MODEL = "facebook/wav2vec2-large-xlsr-53"
# Audio whose frames one model call keeps, and real audio added on each side of it.
# Chosen from the context trade-off benchmark (see README, "Performance").
DEFAULT_CHUNK_SECONDS = 20.0
DEFAULT_CONTEXT_SECONDS = 2.0
