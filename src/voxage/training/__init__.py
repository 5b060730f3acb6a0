"""Training: Lightning module, data module, augmentation, and the fit loop."""
