from __future__ import annotations

from django import forms
from django.conf import settings

from ingest.models import Collection


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=500, strip=True)
    collection = forms.ModelChoiceField(
        queryset=Collection.objects.none(), required=False, empty_label="All collections"
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collection"].queryset = Collection.objects.readable_by(user)


class AskForm(forms.Form):
    question = forms.CharField(max_length=settings.QUESTION_MAX_CHARS, strip=True)
    high_accuracy = forms.BooleanField(required=False)
    collections = forms.ModelMultipleChoiceField(queryset=Collection.objects.none(), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collections"].queryset = Collection.objects.readable_by(user)


class RenameForm(forms.Form):
    title = forms.CharField(max_length=200, strip=True)


class FeedbackForm(forms.Form):
    helpful = forms.TypedChoiceField(
        choices=[("1", "up"), ("0", "down")], coerce=lambda v: v == "1"
    )
    comment = forms.CharField(required=False, max_length=2000, strip=True)
