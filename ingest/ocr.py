"""Text from images: scanned PDF pages, screenshots, photographed notices.

Offline by default: RapidOCR (`rapidocr-onnxruntime`, Apache-2.0), whose wheel carries the
PP-OCRv4 detection and recognition models for Chinese and English; nothing is downloaded at run
time. With a key, `OCR_PROVIDER=qwen` sends each image to Qwen's vision OCR model
(`QWEN_OCR_MODEL`) through the OpenAI-compatible endpoint instead, and its usage is recorded.
"""

from __future__ import annotations

import base64
import io
import logging
import time
from dataclasses import dataclass, field
from functools import cache
from statistics import median

from django.conf import settings
from django.utils.translation import gettext

from assistant.llm.usage import Usage, normalise_usage

log = logging.getLogger(__name__)

QWEN_OCR_PROMPT = (
    "Read all the text in this image, in reading order. Reply with the text only, keeping its "
    "paragraphs and line breaks; do not describe the image."
)


class OcrError(Exception):
    """The recognition itself failed (the engine or the model): the message is for the admin."""


@dataclass
class Reader:
    """Reads the images of one document within its budget (pages, seconds: the parse's limits),
    adding up what a model was paid for. Raises OcrError past a limit."""

    max_pages: int
    max_seconds: float
    provider: str = field(default_factory=lambda: settings.OCR_PROVIDER)
    pages: int = 0
    seconds: float = 0.0
    usage: Usage = field(default_factory=Usage)
    model: str = ""

    def read(self, image) -> str:
        """The text of a PIL image, paragraphs separated by blank lines."""
        if self.pages >= self.max_pages:
            raise OcrError(
                gettext(
                    "More than %(n)d pages need text recognition (OCR_MAX_PAGES); split the "
                    "document."
                )
                % {"n": self.max_pages}
            )
        started = time.monotonic()
        if self.provider == "qwen":
            text, usage, self.model = _qwen(image)
            self.usage = Usage(
                prompt_tokens=self.usage.prompt_tokens + usage.prompt_tokens,
                completion_tokens=self.usage.completion_tokens + usage.completion_tokens,
            )
        else:
            text = _rapidocr(image)
        self.pages += 1
        self.seconds += time.monotonic() - started
        if self.seconds > self.max_seconds:
            raise OcrError(
                gettext(
                    "Text recognition took more than %(seconds).0f s (OCR_MAX_SECONDS); split the "
                    "document or raise the limit."
                )
                % {"seconds": self.max_seconds}
            )
        return text


def _rapidocr(image) -> str:
    import numpy as np

    try:
        result, _ = _engine()(np.asarray(image.convert("RGB"))[:, :, ::-1])  # RGB to BGR
    except Exception as error:
        raise OcrError(gettext("Text recognition failed (%(error)s).") % {"error": error}) from None
    return paragraphs(
        [
            (min(p[1] for p in box), max(p[1] for p in box), min(p[0] for p in box), text)
            for box, text, _score in result or []
        ]
    )


@cache
def _engine():
    from rapidocr_onnxruntime import RapidOCR

    threads = settings.EMBEDDING_THREADS
    return RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)


def paragraphs(lines: list[tuple[float, float, float, str]]) -> str:
    """Recognised lines (top, bottom, left, text), in reading order, as paragraphs: a gap wider
    than half a line, or a line starting far left of the one above, starts a new one."""
    if not lines:
        return ""
    height = median(bottom - top for top, bottom, _, _ in lines) or 1.0
    out: list[list[str]] = []
    previous = None
    for top, bottom, left, text in lines:
        text = text.strip()
        if not text:
            continue
        if previous is None or top - previous[1] > 0.5 * height or left < previous[2] - 2 * height:
            out.append([])
        out[-1].append(text)
        previous = (top, bottom, left)
    return "\n\n".join(_join(lines) for lines in out)


def _join(lines: list[str]) -> str:
    """Lines of one paragraph: words wrap with a space, CJK text without."""
    joined = lines[0]
    for line in lines[1:]:
        glue = "" if _cjk(joined[-1]) and _cjk(line[0]) else " "
        joined += glue + line
    return joined


def _cjk(char: str) -> bool:
    return "\u3000" <= char <= "\u9fff" or "\uf900" <= char <= "\uffef"


def _qwen(image) -> tuple[str, Usage, str]:
    import openai

    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    client = openai.OpenAI(
        base_url=settings.QWEN_BASE_URL,
        api_key=settings.QWEN_API_KEY,
        timeout=settings.LLM_TIMEOUT_S * 4,
        max_retries=2,
    )
    model = settings.QWEN_OCR_MODEL
    try:
        response = client.chat.completions.create(
            model=model,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": url}},
                        {"type": "text", "text": QWEN_OCR_PROMPT},
                    ],
                }
            ],
            max_tokens=4096,
        )
    except openai.OpenAIError as error:
        raise OcrError(
            gettext("Qwen's OCR model failed (%(error)s).")
            % {"error": f"{type(error).__name__}: {error}"}
        ) from None
    text = (response.choices[0].message.content or "").strip()
    usage = normalise_usage(response.usage)
    log.info(
        "ocr call model=%s prompt_tokens=%d completion_tokens=%d",
        model,
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    return text, usage, model
