"""The registered model names, readable without importing torch (the CLI offers them as choices);
`tests/test_features_models.py` checks that they match `voxage.models.registry.MODELS`."""

from voxage.features.frontends import EmbedFrontEnd

# The last is the head on the embed front-end's vectors, named after it.
MODEL_NAMES = ("rnn", "bigru", "tcn", "cnn", "resnet", EmbedFrontEnd.name)
