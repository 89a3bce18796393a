from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ingest.models import Collection


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class UploadForm(forms.Form):
    collection = forms.ModelChoiceField(queryset=Collection.objects.all(), label=_("Collection"))
    files = MultipleFileField(
        label=_("Files"),
        help_text=_(
            "PDF, Word, PowerPoint, Excel, CSV, HTML, Markdown or text. Pick several at once."
        ),
    )
