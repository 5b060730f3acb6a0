"""voxage: tell a speaker's age group from their voice.

>>> import voxage
>>> voxage.AGE_GROUPS
('teens', 'twenties', 'thirties', 'fourties', 'fifties', 'sixties')
"""

from voxage.errors import AudioError, ModelError, VoxageError
from voxage.inference.predictor import Prediction, Predictor
from voxage.labels import AGE_GROUPS, GENDERS

__version__ = "0.14.0"  # the one version string (pyproject reads it)
__all__ = ["AGE_GROUPS", "GENDERS", "AudioError", "ModelError", "Prediction", "Predictor", "VoxageError",
           "__version__"]
