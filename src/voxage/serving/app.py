"""The HTTP service: FastAPI for typed JSON endpoints and an OpenAPI schema for free, uvicorn to run it."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, File, HTTPException, Query, UploadFile
from fastapi.responses import HTMLResponse

from voxage.audio import AudioError
from voxage.inference import Predictor
from voxage.labels import AGE_GROUPS
from voxage.serving.body_limit import BodySizeLimit
from voxage.serving.recommend import recommend

DEFAULT_MAX_UPLOAD = 5 * 1024 * 1024


def create_app(model_path: str | Path | None = None, max_upload_bytes: int = DEFAULT_MAX_UPLOAD) -> FastAPI:
    predictor = Predictor(model_path)  # loaded once, before the first request
    app = FastAPI(title="voxage", version="0.1.0",
                  description="Age group from a voice recording, and age-aware movie suggestions.")
    page = (resources.files("voxage") / "serving" / "static" / "index.html").read_text()

    app.add_middleware(BodySizeLimit, limit=max_upload_bytes)

    @app.get("/health")
    def health():
        return {"status": "ok", "model": predictor.artifact.name, "classes": list(AGE_GROUPS)}

    @app.get("/", response_class=HTMLResponse)
    def index():
        return page

    @app.post("/api/predict")
    def predict(audio: UploadFile = File(..., description="wav, mp3, ogg, flac (or webm with ffmpeg)")):
        try:
            pred = predictor.predict_bytes(audio.file.read(), audio.filename or "upload")
        except AudioError as err:
            raise HTTPException(415 if err.reason in ("undecodable", "empty") else 422, str(err)) from None
        return pred.to_dict()

    @app.get("/api/recommend")
    def recommend_titles(age_group: str = Query(..., description=", ".join(AGE_GROUPS)), limit: int = 5):
        try:
            return {"age_group": age_group, "titles": recommend(age_group, limit)}
        except ValueError as err:
            raise HTTPException(422, str(err)) from None

    return app


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory` (how `voxage serve --workers N` starts N processes): settings come from
    VOXAGE_MODEL and VOXAGE_MAX_UPLOAD_BYTES, which `voxage serve` sets from its flags."""
    return create_app(os.environ.get("VOXAGE_MODEL") or None,
                      int(os.environ.get("VOXAGE_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD)))
