"""Text recognition: screenshots and scanned PDF pages rendered here from known text, English and
Chinese, read offline by RapidOCR or, with OCR_PROVIDER=qwen, by the stand-in playing Qwen's
vision OCR model; then found by a question."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from assistant.llm.models import LlmCall
from ingest import pipeline
from ingest.models import Chunk, Collection, Document
from ingest.parsers import PDF, PNG, IngestError, ParseLimits, parse
from ingest.search.retrieval import search
from tests.ingest import files
from tests.support.qwen_standin import Reply

SCREENSHOT = ["Error E42: the backup disk is full.", "错误 E42：备份磁盘已满。"]


def test_a_screenshot_is_read_in_english_and_chinese():
    parsed = parse(files.png_of(SCREENSHOT), "dialog.png")

    text = " ".join(b.text for b in parsed.blocks)
    assert parsed.media_type == PNG
    assert "backup disk is full" in text
    assert "备份磁盘已满" in text
    assert parsed.ocr_pages == [1]


def test_only_the_scanned_pages_of_a_pdf_are_read_and_they_keep_their_numbers():
    data = files.scanned_pdf(
        [
            "Typed page about invoices and their due dates, long enough to be a text layer.",
            ["Refunds are paid within 14 days."],
            ["退款在十四天内支付。"],
        ]
    )

    parsed = parse(data, "policy.pdf")

    pages = {b.page: b.text for b in parsed.blocks}
    assert parsed.media_type == PDF and parsed.ocr_pages == [2, 3]
    assert "invoices" in pages[1]
    assert "Refunds are paid within 14 days" in pages[2]
    assert "退款在十四天内支付" in pages[3]


def test_the_frames_of_a_tiff_are_read_at_once_and_keep_their_page_numbers(settings):
    settings.EMBEDDING_THREADS = 2  # two frames are read at a time
    first, *rest = [
        files.text_image([line])
        for line in ["Invoice for March.", "Shipping label.", "Return form."]
    ]
    scan = io.BytesIO()
    first.save(scan, format="TIFF", save_all=True, append_images=rest)

    parsed = parse(scan.getvalue(), "scans.tiff")

    pages = {b.page: b.text for b in parsed.blocks}
    assert parsed.ocr_pages == [1, 2, 3]
    assert "Invoice for March" in pages[1]
    assert "Shipping label" in pages[2]
    assert "Return form" in pages[3]


def test_a_long_scanned_line_keeps_the_spaces_between_its_words_in_small_print_and_large():
    # Read 48 pixels high, as the model was trained, the small print came back as one word.
    line = "Rows and columns have the same set of the following attributes and names"
    for size, width in [(22, 1400), (56, 2600)]:
        scan = io.BytesIO()
        image = files.text_image([line + "."], size=size, width=width).convert("L")
        image.save(scan, format="JPEG", quality=75)

        text = " ".join(b.text for b in parse(scan.getvalue(), "notice.jpg").blocks)

        assert line in text, size


def test_an_image_wider_than_the_text_detector_looks_is_read_at_full_size(settings):
    assert settings.OCR_DETECTION_SIDE < 3000
    image = files.text_image(
        ["Backups run nightly.", "Restores need a ticket."], size=40, width=3000
    )
    out = io.BytesIO()
    image.save(out, format="PNG")

    parsed = parse(out.getvalue(), "wide.png")

    text = " ".join(b.text for b in parsed.blocks)
    assert "Backups run nightly" in text
    assert "Restores need a ticket" in text


def test_an_image_over_the_pixel_limit_is_refused_with_the_setting_to_change():
    with pytest.raises(IngestError, match=r"megapixels \(OCR_MAX_PIXELS\)"):
        parse(files.png_of(SCREENSHOT), "big.png", limits=ParseLimits(max_pixels=10_000))


def test_more_scanned_pages_than_allowed_fail_the_document(settings):
    settings.OCR_MAX_PAGES = 1
    with pytest.raises(IngestError, match=r"Page 2: More than 1 pages need text recognition"):
        parse(files.scanned_pdf([["One."], ["Two."]]), "scan.pdf")


def test_pages_read_at_once_still_name_the_first_page_past_the_limit(settings):
    settings.OCR_MAX_PAGES = 2
    settings.EMBEDDING_THREADS = 2
    with pytest.raises(IngestError, match=r"^Page 3: More than 2 pages need text recognition"):
        parse(files.scanned_pdf([["One."], ["Two."], ["Three."]]), "scan.pdf")


def test_ocr_past_its_time_budget_fails_the_document_naming_the_setting(settings):
    settings.OCR_MAX_SECONDS = 0  # any recognition at all is past it

    with pytest.raises(IngestError, match=r"took more than 0 s \(OCR_MAX_SECONDS\)"):
        parse(files.png_of(SCREENSHOT), "dialog.png")


def test_a_scanned_page_larger_than_the_pixel_limit_is_rendered_smaller_and_still_read(
    qwen_settings, standin
):
    qwen_settings.OCR_PROVIDER = "qwen"  # the stand-in sees the rendered page
    standin.script_completion(Reply(text="Refunds are paid within 14 days."))
    limit = 200_000  # an A4 page at 150 dpi is 1240 × 1754, about 2.2 million pixels

    parsed = parse(
        files.scanned_pdf([["Refunds are paid within 14 days."]]),
        "policy.pdf",
        limits=ParseLimits(max_pixels=limit),
    )

    assert parsed.ocr_pages == [1]
    assert "Refunds are paid within 14 days." in parsed.blocks[0].text
    [sent] = standin.completion_requests()
    url = sent["messages"][0]["content"][0]["image_url"]["url"]
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as page:
        width, height = page.size
    assert width * height <= limit
    assert width * height > limit * 0.95, "as large as the limit allows"


@pytest.mark.django_db
def test_a_screenshot_becomes_a_searchable_document_marked_as_recognised(client, django_user_model):
    collection = Collection.objects.create(name="Support", is_public=True)
    submission = pipeline.submit(
        collection=collection, source_path="dialog.png", data=files.png_of(SCREENSHOT)
    )
    document = pipeline.process(submission.document.pk)
    assert document.status == Document.Status.READY, document.failure_reason
    user = django_user_model.objects.create_user("sam", password="pw-sam-123456")

    found = search("backup disk full error E42", user=user, k=3)

    assert found.hits and found.hits[0].document_id == document.pk
    client.force_login(user)
    page = client.get(f"/documents/{document.pk}/").content.decode()
    assert "text recognised from an image" in page


@pytest.mark.django_db
def test_with_qwen_the_vision_model_reads_the_image_and_its_usage_is_recorded(
    qwen_settings, standin
):
    qwen_settings.OCR_PROVIDER = "qwen"
    standin.script_completion(Reply(text="Printer jam: open tray 2.", prompt_tokens=900))
    collection = Collection.objects.create(name="Support", is_public=True)
    submission = pipeline.submit(
        collection=collection, source_path="printer.png", data=files.png_of(["Printer jam"])
    )

    document = pipeline.process(submission.document.pk)

    assert document.status == Document.Status.READY, document.failure_reason
    assert Chunk.objects.get(document=document).text == "Printer jam: open tray 2."
    [sent] = standin.completion_requests()
    image = sent["messages"][0]["content"][0]
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/png")
    call = LlmCall.objects.get(kind="ocr")
    assert (call.model, call.prompt_tokens) == ("qwen-vl-ocr", 900)
