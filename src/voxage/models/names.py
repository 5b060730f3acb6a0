"""The registered model names, readable without importing torch (the CLI offers them as choices);
`tests/test_features_models.py` checks that they match `voxage.models.registry.MODELS`."""

MODEL_NAMES = ("rnn", "bigru", "tcn", "cnn", "resnet", "embed")
