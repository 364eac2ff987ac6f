"""Default metric selection and encoders, kept free of heavy imports so that the CLI starts fast."""

DEFAULT_METRICS = "dino,clip_i,clip_t,bg"
DEFAULT_BATCH_SIZE = 16

# The name that selects a small, seeded, randomly initialised encoder for smoke runs and tests.
TINY = "tiny"
# CLIP ViT-B/32 with OpenAI's weights, the CLIP-I and CLIP-T encoder of DreamBooth-style evaluations.
DEFAULT_CLIP_MODEL = "ViT-B-32"
DEFAULT_CLIP_PRETRAINED = "openai"
# DINO ViT-S/16, the self-supervised encoder of the DINO subject-fidelity score.
DEFAULT_DINO_MODEL = "dino_vits16"
