from __future__ import annotations

from django import forms

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
    collection = forms.ModelChoiceField(queryset=Collection.objects.all())
    files = MultipleFileField(
        help_text="PDF, Word, PowerPoint, Excel, CSV, HTML, Markdown or text. Pick several at once."
    )
