"""The JSON API of ``litlab serve`` (FastAPI; the OpenAPI schema is at ``/openapi.json`` and
browsable at ``/docs``).

    GET  /health          liveness and how many models are loaded
    GET  /models          every served model: name, version, kind, classes, best score
    POST /classify        multipart: file (an image), model, top_k  -> top classes
    POST /sentiment       {"model", "text"}                           -> label, probabilities,
                                                                         word attributions,
                                                                         language warning
    POST /generate        {"model", "prompt", sampling ...}           -> text/plain, streamed
    POST /chat            {"model", "history", "message", ...}        -> text/plain, streamed
    POST /classify/audio  multipart: file (a WAV), model, top_k,      -> top digits, clipping
                          explain                                        warning, Grad-CAM PNG
    POST /summarize       {"model", "text", "ratio"}                  -> summary, sentences
                                                                         with scores, notes
    POST /explain/image   multipart: file, model                      -> Grad-CAM PNG (base64)
    POST /explain/text    {"model", "text"}                           -> attribution and
                                                                         attention PNGs, HTML

Every bad input gets a 4xx with ``{"detail": ...}``, each documented in the schema: 400 for
a body that cannot be parsed (JSON that is not UTF-8, broken multipart) or an empty upload,
404 for an unknown model, 413 for an image over the limit (or a recording over 10 MiB or
30 s), 415 for a file that is not an image (or not audio), 422 for a text that is empty, too
long or cannot be encoded, or a recording that is silent or holds no samples (and for anything the
schema refuses: then ``detail`` lists the fields). Handlers are plain ``def`` functions,
which FastAPI runs in its thread pool, so inference never blocks the event loop;
``serve/hub.py`` says what makes concurrent requests safe.
"""

from __future__ import annotations

import base64
import logging
import time
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field

from litlab.serve.audio import add_routes as add_audio_routes
from litlab.serve.hub import ModelHub
from litlab.serve.payloads import InputError
from litlab.serve.summaries import EXAMPLE, MAX_ARTICLE

log = logging.getLogger("litlab.serve")
MAX_TEXT = 5000  # characters of a review
MAX_PROMPT = 2000

ModelName = Annotated[str, Field(min_length=1, max_length=100, examples=["imdb-bilstm"])]


class Problem(BaseModel):
    detail: str = Field(description="why the request cannot be answered")


class Invalid(BaseModel):
    detail: str | list[dict[str, Any]] = Field(
        description="why, or (for a request the schema refuses) FastAPI's list of invalid fields"
    )


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The refusals an operation documents: each status code with its JSON body."""
    return {code: {"model": Invalid if code == 422 else Problem} for code in codes}


UPLOAD_ERRORS = _errors(400, 404, 413, 415, 422)
TEXT_ERRORS = _errors(400, 404, 422)  # 400: a body FastAPI cannot parse


class Health(BaseModel):
    status: Literal["ok"]
    models: int
    uptime_s: float


class ModelInfo(BaseModel):
    name: str
    version: str
    kind: str
    metric: str
    classes: list[str] | None = None
    chat: bool | None = None


class Scored(BaseModel):
    label: str
    prob: float


class Classification(BaseModel):
    model: str
    top: list[Scored]


class SentimentIn(BaseModel):
    model: ModelName
    text: str = Field(min_length=1, max_length=MAX_TEXT, examples=["A wonderful, moving film."])
    attributions: bool = Field(True, description="integrated gradients per word")


WARNING = Field(
    None,
    description="why the answer may mean little: the text is mostly outside the model's "
    "language or vocabulary (and the served model to try instead); null when fine",
    examples=["this model was trained on English text; the text looks Korean: try nsmc-bilstm"],
)


class SentimentOut(BaseModel):
    model: str
    label: str
    probs: dict[str, float]
    warning: str | None = WARNING
    tokens: list[str] | None = Field(
        None,
        description="the text's words (each with the space before it: joined, they read as "
        "the text; special tokens such as [CLS] apart)",
    )
    scores: list[float] | None = Field(
        None, description="per word, its tokens' attributions summed; > 0 pushed to the label"
    )


class Sampling(BaseModel):
    max_new_tokens: int = Field(200, ge=1, le=1000)
    temperature: float = Field(0.8, ge=0.0, le=5.0, description="0 = greedy")
    top_k: int | None = Field(40, ge=1, le=100_000)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int = Field(0, ge=0, le=2**63 - 1)


class GenerateIn(Sampling):
    model: ModelName
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT, examples=["ROMEO:"])
    stop: list[Annotated[str, Field(max_length=50)]] = Field([], max_length=4)


class Turn(BaseModel):
    speaker: Literal["user", "bot"]
    text: str = Field(max_length=MAX_PROMPT)


SPEAKER = r"^[A-Za-z\uac00-\ud7a3][A-Za-z\uac00-\ud7a3 ]*$"  # Latin letters or Hangul


class ChatIn(Sampling):
    model: ModelName
    message: str = Field(
        min_length=1, max_length=MAX_PROMPT, examples=["Good morrow!", "오늘 너무 힘들어"]
    )
    history: list[Turn] = Field([], max_length=100)
    # None: the model's own (YOU / ROMEO for the plays, 사용자 / 챗봇 for the Korean chatbot)
    user: str | None = Field(None, min_length=1, max_length=30, pattern=SPEAKER)
    bot: str | None = Field(None, min_length=1, max_length=30, pattern=SPEAKER)


class SummarizeIn(BaseModel):
    model: ModelName
    text: str = Field(min_length=1, max_length=MAX_ARTICLE, examples=[EXAMPLE])
    ratio: float | None = Field(
        None, gt=0.0, le=1.0,
        description="share of the article's words the summary may fill; null: the model's",
    )


class ScoredSentence(BaseModel):
    text: str
    score: float = Field(description="the model's probability that it belongs in the summary")
    selected: bool


class SummaryOut(BaseModel):
    model: str
    summary: str = Field(description="the picked sentences, in article order")
    sentences: list[ScoredSentence]
    notes: list[str] = Field(description="e.g. that only the first sentences were read")


class ImageExplanation(Classification):
    gradcam_png: str = Field(description="base64 PNG: the image and one overlay per class")


class TextIn(BaseModel):
    model: ModelName
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class TextExplanation(BaseModel):
    model: str
    top: list[Scored]
    warning: str | None = WARNING
    html: str
    figures_png: dict[str, str] = Field(description="name -> base64 PNG")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _upload(file: UploadFile, limit: int) -> bytes:
    """The upload's bytes, reading at most one byte past the limit (the hub refuses it)."""
    return file.file.read(limit + 1)


async def single_fields(request: Request) -> None:
    """A form field sent twice (``top_k=1&top_k=9``) is refused, not silently read as one."""
    form = await request.form()  # parsed once already: Starlette keeps it
    repeated = sorted({key for key in form if len(form.getlist(key)) > 1})
    if repeated:
        raise InputError(f"send each form field once ({', '.join(repeated)} came twice)", 422)


def create_app(hub: ModelHub, ui: bool = True) -> FastAPI:
    """The API for ``hub``'s models; with ``ui``, the Gradio app mounted at ``/ui``."""
    app = FastAPI(
        title="litlab serve",
        version="1",
        description="Image classification, sentiment, generation and chat with the models "
        "of the litlab registry, with the explanations behind each answer.",
    )
    app.state.hub, started = hub, time.monotonic()

    @app.exception_handler(InputError)
    def _input_error(request: Request, err: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=err.status)

    @app.middleware("http")
    async def _log(request: Request, call_next):
        t = time.perf_counter()
        response = await call_next(request)
        ms = (time.perf_counter() - t) * 1000
        if request.method == "GET" and request.url.path.startswith("/ui/"):
            return response  # the web app's page assets: dozens per page load
        log.info("%s %s %d %.1f ms", request.method, request.url.path, response.status_code, ms)
        return response

    @app.get("/health", response_model=Health)
    def health() -> dict:
        return {"status": "ok", "models": len(hub.models), "uptime_s": time.monotonic() - started}

    @app.get("/models", response_model=list[ModelInfo])
    def models() -> list[dict]:
        return hub.describe()

    once = [Depends(single_fields)]

    @app.post(
        "/classify", response_model=Classification, responses=UPLOAD_ERRORS, dependencies=once
    )
    def classify(
        file: Annotated[UploadFile, File(description="PNG, JPEG, GIF or WebP")],
        model: Annotated[str, Form(min_length=1, max_length=100)],
        top_k: Annotated[int, Form(ge=1, le=100)] = 5,
    ) -> dict:
        return hub.classify(model, _upload(file, hub.max_image_bytes), top_k)

    @app.post("/sentiment", response_model=SentimentOut, responses=TEXT_ERRORS)
    def sentiment(body: SentimentIn) -> dict:
        return hub.sentiment(body.model, body.text, body.attributions)

    @app.post(
        "/generate",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/plain": {}}}, **TEXT_ERRORS},
    )
    def generate(body: GenerateIn) -> StreamingResponse:
        pieces = hub.generate(
            body.model, body.prompt, body.max_new_tokens, body.temperature, body.top_k,
            body.top_p, body.seed, body.stop,
        )  # fmt: skip
        return StreamingResponse(pieces, media_type="text/plain; charset=utf-8")

    @app.post(
        "/chat",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/plain": {}}}, **TEXT_ERRORS},
    )
    def chat(body: ChatIn) -> StreamingResponse:
        user, bot = hub.speakers(body.model, body.user, body.bot)
        names = {"user": user, "bot": bot}
        pieces = hub.chat(
            body.model,
            [(names[t.speaker], t.text) for t in body.history],
            body.message,
            user,
            bot,
            body.seed,
            max_new_tokens=body.max_new_tokens,
            temperature=body.temperature,
            top_k=body.top_k,
            top_p=body.top_p,
        )
        return StreamingResponse(pieces, media_type="text/plain; charset=utf-8")

    add_audio_routes(app, hub, UPLOAD_ERRORS, once)  # POST /classify/audio (serve/audio.py)

    @app.post("/summarize", response_model=SummaryOut, responses=TEXT_ERRORS)
    def summarize(body: SummarizeIn) -> dict:
        return hub.summarize(body.model, body.text, body.ratio)

    @app.post(
        "/explain/image",
        response_model=ImageExplanation,
        responses=UPLOAD_ERRORS,
        dependencies=once,
    )
    def explain_image(
        file: Annotated[UploadFile, File(description="PNG, JPEG, GIF or WebP")],
        model: Annotated[str, Form(min_length=1, max_length=100)],
        top_k: Annotated[int, Form(ge=1, le=5)] = 3,
    ) -> dict:
        out = hub.explain_image(model, _upload(file, hub.max_image_bytes), top_k)
        return {**out, "gradcam_png": b64(out["gradcam_png"])}

    @app.post("/explain/text", response_model=TextExplanation, responses=TEXT_ERRORS)
    def explain_text(body: TextIn) -> dict:
        out = hub.explain_text(body.model, body.text)
        return {**out, "figures_png": {k: b64(v) for k, v in out["figures_png"].items()}}

    if ui:
        from litlab.serve.webapp import mount

        mount(app, hub, path="/ui")

        @app.get("/", include_in_schema=False)
        def root() -> RedirectResponse:
            return RedirectResponse("/ui")

    return app
