"""Text from images: scanned PDF pages, screenshots, photographed notices.

Offline by default: RapidOCR (`rapidocr-onnxruntime`, Apache-2.0), whose wheel carries the
PP-OCRv4 detection and recognition models for Chinese and English; nothing is downloaded at run
time. With a key, `OCR_PROVIDER=qwen` sends each image to Qwen's vision OCR model
(`QWEN_OCR_MODEL`) through the OpenAI-compatible endpoint instead, and its usage is recorded.
"""

from __future__ import annotations

import base64
import copy
import io
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from statistics import median

from django.conf import settings
from django.utils import translation
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
    threads: int = field(default_factory=lambda: settings.EMBEDDING_THREADS)
    pages: int = 0
    seconds: float = 0.0
    usage: Usage = field(default_factory=Usage)
    model: str = ""

    def read_all(self, images: Iterable) -> Iterator[str]:
        """The text of each PIL image, in order, paragraphs separated by blank lines. `threads`
        images are read at once, each by one core; the next is taken from `images` (rendered,
        say) while they are read. An error is raised once the texts before its image are out."""
        started = time.monotonic() - self.seconds
        language = translation.get_language()  # the threads' own is the default
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            reading: deque[Future] = deque()
            try:
                for image in images:
                    if self.pages >= self.max_pages:
                        while reading:
                            yield self._collect(reading.popleft(), started)
                        raise OcrError(
                            gettext(
                                "More than %(n)d pages need text recognition (OCR_MAX_PAGES); "
                                "split the document."
                            )
                            % {"n": self.max_pages}
                        )
                    prepared = self._prepare(image)
                    reading.append(pool.submit(self._recognise, prepared, language))
                    self.pages += 1
                    if len(reading) >= self.threads:
                        yield self._collect(reading.popleft(), started)
                while reading:
                    yield self._collect(reading.popleft(), started)
            finally:
                for future in reading:
                    future.cancel()

    def _prepare(self, image):
        """What the recogniser reads, made here: a TIFF's frames are one object that moves on."""
        if self.provider == "qwen":
            return _png_url(image)
        return _bgr(image)

    def _recognise(self, prepared, language: str | None) -> tuple[str, Usage, str]:
        with translation.override(language):
            if self.provider == "qwen":
                return _qwen(prepared)
            return _rapidocr(prepared), Usage(), ""

    def _collect(self, future: Future, started: float) -> str:
        text, usage, model = future.result()
        self.usage = Usage(
            prompt_tokens=self.usage.prompt_tokens + usage.prompt_tokens,
            completion_tokens=self.usage.completion_tokens + usage.completion_tokens,
        )
        self.model = model or self.model
        self.seconds = time.monotonic() - started
        if self.seconds > self.max_seconds:
            raise OcrError(
                gettext(
                    "Text recognition took more than %(seconds).0f s (OCR_MAX_SECONDS); split the "
                    "document or raise the limit."
                )
                % {"seconds": self.max_seconds}
            )
        return text


def _bgr(image):
    import numpy as np

    # Contiguous: RapidOCR crops each line with OpenCV, which copies a reversed view whole.
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


def _rapidocr(bgr) -> str:
    try:
        result, _ = _engine()(bgr)
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
    """RapidOCR tuned by the settings (README, Benchmarks): its text detector sees images at most
    OCR_DETECTION_SIDE pixels long (the lines are still cut from the whole image), each line is
    read at a height that suits its size (or OCR_LINE_HEIGHT), the classifier of upside-down
    lines only with OCR_ANGLES; one core per call, as pages are read in parallel (Reader)."""
    from rapidocr_onnxruntime import RapidOCR

    ocr = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1, use_cls=settings.OCR_ANGLES)
    ocr.text_det = _SmallerDetection(ocr.text_det, settings.OCR_DETECTION_SIDE)
    heights = [settings.OCR_LINE_HEIGHT] if settings.OCR_LINE_HEIGHT else LINE_HEIGHTS
    readers = {}
    for height in heights:
        readers[height] = copy.copy(ocr.text_rec)  # the same model, read at another height
        readers[height].rec_image_shape = [3, height, 320]
    ocr.text_rec = _LinesBySize(readers)
    return ocr


# The recognition model is trained on lines 48 pixels high, yet reads a 150 dpi scan's 26-pixel
# lines best at 32 to 36 (at 48 it loses most spaces between words) and larger type at 40 to 48:
# it wants a line enlarged by about a fifth (bench/ocr_scan.py, README).
LINE_HEIGHTS = [32, 40, 48]
LINE_ENLARGED = 1.2


@dataclass
class _LinesBySize:
    """RapidOCR's line recogniser, each line read by the one of `readers` (by height) nearest
    above its own height enlarged by LINE_ENLARGED, the tallest for taller lines."""

    readers: dict[int, Callable]

    def __call__(self, lines: list, return_word_box: bool = False):
        heights = sorted(self.readers)
        groups: dict[int, list[int]] = {}
        for index, line in enumerate(lines):
            wanted = line.shape[0] * LINE_ENLARGED
            height = next((h for h in heights if h >= wanted), heights[-1])
            groups.setdefault(height, []).append(index)
        read: list = [None] * len(lines)
        seconds = 0.0
        for height, indices in groups.items():
            texts, spent = self.readers[height]([lines[i] for i in indices], return_word_box)
            for index, text in zip(indices, texts, strict=True):
                read[index] = text
            seconds += spent
        return read, seconds


@dataclass
class _SmallerDetection:
    """RapidOCR's text detector run on a copy of the image scaled down to `side`, its boxes
    scaled back (RapidOCR itself only ever scales detection up)."""

    detector: Callable
    side: int

    def __call__(self, image):
        import cv2

        height, width = image.shape[:2]
        scale = self.side / max(height, width)
        if scale >= 1:
            return self.detector(image)
        smaller = cv2.resize(
            image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
        )
        boxes, seconds = self.detector(smaller)
        if boxes is None or not len(boxes):
            return boxes, seconds
        return (boxes / scale).astype(boxes.dtype), seconds


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


def _png_url(image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _qwen(url: str) -> tuple[str, Usage, str]:
    import openai

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
