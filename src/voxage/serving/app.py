"""The HTTP service: FastAPI for typed JSON endpoints and an OpenAPI schema that is the contract
(`voxage.serving.schemas`), uvicorn to run it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fastapi import Depends, FastAPI, File, Query, Request, Security, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from voxage import __version__
from voxage.audio import AudioError
from voxage.errors import ConfigError
from voxage.inference import Predictor
from voxage.inference.stream import StreamLimits
from voxage.serving import schemas
from voxage.serving.body_limit import BodySizeLimit
from voxage.serving.guard import ApiError, RateLimiter, check_key
from voxage.serving.recommend import MAX_TITLES, recommend
from voxage.serving.streaming import Streams, add_stream_routes

DEFAULT_MAX_UPLOAD = 5 * 1024 * 1024
UNDECODABLE = ("undecodable", "empty")  # 415; other audio problems (too short, silent) are 422


@dataclass(frozen=True)
class ServerConfig:
    model: str | Path | None = None  # None: the bundled model
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    api_key: str | None = None  # set: /api/* needs "Authorization: Bearer KEY"
    rate_limit: float = 0  # requests (and new streams) a minute per client on /api/*; 0: no limit
    stream_max_seconds: float = StreamLimits.max_seconds  # audio one /api/stream may send
    stream_idle_seconds: float = StreamLimits.idle_seconds  # a stream silent this long is closed

    def __post_init__(self):
        if self.max_upload_bytes <= 0:
            raise ConfigError("the upload limit must be positive")
        if self.rate_limit < 0:
            raise ConfigError("the rate limit must be 0 (off) or positive")
        self.stream_limits  # checks them

    @property
    def stream_limits(self) -> StreamLimits:
        return StreamLimits(max_seconds=self.stream_max_seconds, idle_seconds=self.stream_idle_seconds)

    @classmethod
    def from_env(cls) -> "ServerConfig":
        """What `voxage serve` passes to its worker processes (and what a deployment can set directly)."""
        env = os.environ.get
        return cls(env("VOXAGE_MODEL") or None, int(env("VOXAGE_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD)),
                   env("VOXAGE_API_KEY") or None, float(env("VOXAGE_RATE_LIMIT", 0)),
                   float(env("VOXAGE_STREAM_MAX_SECONDS", StreamLimits.max_seconds)),
                   float(env("VOXAGE_STREAM_IDLE_SECONDS", StreamLimits.idle_seconds)))


def _error(status: int, reason: str, detail: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(schemas.Error(detail=detail, reason=reason).model_dump(), status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    """One body for every 4xx: {"detail": str, "reason": str}."""

    @app.exception_handler(ApiError)
    async def api_error(_, exc: ApiError):
        return _error(exc.status, exc.reason, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_, exc: RequestValidationError):
        where = lambda e: ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0])  # noqa: E731
        return _error(422, "invalid_request", "; ".join(f"{where(e)}: {e['msg']}" for e in exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_, exc: StarletteHTTPException):
        reasons = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
        return _error(exc.status_code, reasons.get(exc.status_code, "http_error"), str(exc.detail),
                      getattr(exc, "headers", None))


def create_app(config: ServerConfig | None = None) -> FastAPI:
    cfg = config or ServerConfig()
    predictor = Predictor(cfg.model)  # loaded once, before the first request; shared by the request threads
    limiter = RateLimiter(cfg.rate_limit) if cfg.rate_limit else None
    app = FastAPI(title="voxage", version=__version__,
                  description="Age group (and gender) from a voice recording, and age-aware movie suggestions.")
    page = (resources.files("voxage") / "serving" / "static" / "index.html").read_text()
    app.add_middleware(BodySizeLimit, limit=cfg.max_upload_bytes)
    _install_error_handlers(app)

    def throttle(request: Request) -> None:
        if limiter is not None:
            limiter.take(request.client.host if request.client else "unknown")

    if cfg.api_key:  # declared as a bearer scheme in the schema only when a key is required
        bearer = HTTPBearer(auto_error=False, description="the key given to `voxage serve --api-key`")

        def guard(request: Request, _=Security(bearer)) -> None:
            check_key(cfg.api_key, request.headers.get("authorization"))
            throttle(request)
    else:
        guard = throttle
    common = ((401,) if cfg.api_key else ()) + ((429,) if limiter else ())

    @app.get("/health", response_model=schemas.Health)
    async def health():  # on the event loop, not the request threads: answers while predictions queue
        return {"status": "ok", "model": predictor.artifact.name, "classes": list(predictor.classes)}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index():
        return page

    @app.post("/api/predict", response_model=schemas.Prediction, response_model_exclude_none=True,
              responses=schemas.errors(400, *common, 413, 415, 422), dependencies=[Depends(guard)])
    def predict(audio: list[UploadFile] = File(..., description="wav, mp3, ogg, flac (or webm/mp4 with ffmpeg); "
                                                                "several `audio` parts: recordings of one person, "
                                                                "judged together as one answer")):
        try:
            if len(audio) == 1:
                return predictor.predict_bytes(audio[0].file.read(), audio[0].filename or "upload").to_dict()
            return predictor.predict_speaker([part.file.read() for part in audio]).to_dict()
        except AudioError as err:
            raise ApiError(415 if err.reason in UNDECODABLE else 422, err.reason, str(err)) from None

    add_stream_routes(app, Streams(predictor, cfg.api_key, limiter, cfg.stream_limits))

    @app.get("/api/recommend", response_model=schemas.Recommendations, responses=schemas.errors(*common, 422),
             dependencies=[Depends(guard)])
    def recommend_titles(age_group: schemas.AgeGroup,
                         limit: int = Query(5, ge=1, le=MAX_TITLES, description="how many titles at most")):
        return {"age_group": age_group.value, "titles": recommend(age_group.value, limit)}

    return app


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory` (how `voxage serve --workers N` starts N processes)."""
    return create_app(ServerConfig.from_env())
